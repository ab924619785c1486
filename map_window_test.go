package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `dialhook map` says in which zones a call window by destination was
// read, whatever the hour: the number's own, or the fallback.
func TestMapExplainsDestinationWindow(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dialhook.yaml")
	if err := os.WriteFile(cfg, []byte(`
defaults: {callerid: "59829001234", agent: "1001", phone: "1001", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
call_window: {timezone: destination, fallback_timezone: America/Montevideo, start: "08:00", end: "21:00"}
sources:
  crm: {kind: generic}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ destination, want string }{
		{"099 123 456", "call window evaluated in America/Montevideo (from +59899123456): "},
		{"+61 8 9345 6789", "call window evaluated in Australia/Adelaide, Australia/Perth (from +61893456789; open only when open in every one): "},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := mapCommand(context.Background(), []string{"--config", cfg, "--source", "crm", "--file", "-"}, func(string) string { return "" },
			strings.NewReader(`{"destination":"`+c.destination+`"}`), &out, io.Discard)
		if err != nil {
			t.Fatalf("map: %v\n%s", err, out.String())
		}
		var v struct {
			Events []struct {
				CallWindow string `json:"call_window"`
			} `json:"events"`
		}
		if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.Events) != 1 {
			t.Fatalf("output: %v\n%s", err, out.String())
		}
		if got := v.Events[0].CallWindow; !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: call_window %q, want it to start %q", c.destination, got, c.want)
		}
	}
}
