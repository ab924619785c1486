package config

import (
	"strings"
	"testing"
)

// timezone: destination is accepted globally and per source, with or
// without a fallback zone, and compiles to a window read in the number's
// zones.
func TestCallWindowDestination(t *testing.T) {
	p := writeFile(t, `
call_window: {timezone: destination, start: "08:00", end: "21:00"}
sources:
  crm:
    kind: generic
    call_window: {timezone: destination, fallback_timezone: America/Montevideo, days: [mon-sat], start: "09:00", end: "20:00"}
`)
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for key, w := range map[string]*CallWindow{"call_window": c.CallWindow, "sources.crm.call_window": c.Sources["crm"].CallWindow} {
		sw, err := w.Compile()
		if err != nil || !sw.ByDestination() {
			t.Errorf("%s: compiled to %v, %v; want a window by destination", key, sw, err)
		}
	}
	sw, _ := c.Sources["crm"].CallWindow.Compile()
	if got := sw.For("+88234").Zones(); !strings.HasPrefix(got, "America/Montevideo (the fallback zone") {
		t.Errorf("fallback_timezone not used: %q", got)
	}
	global, _ := c.CallWindow.Compile()
	if got := global.For("").Zones(); !strings.HasPrefix(got, "UTC (the fallback zone") {
		t.Errorf("the default fallback is not UTC: %q", got)
	}
}

// Every mistake with the fallback zone is reported at start-up, under its
// key.
func TestCallWindowFallbackProblems(t *testing.T) {
	cases := []struct{ file, want string }{
		{"call_window: {timezone: America/Montevideo, fallback_timezone: UTC}\n",
			"call_window.fallback_timezone: is read only with timezone: destination"},
		{"call_window: {timezone: destination, fallback_timezone: Mars/Olympus}\n",
			`call_window.fallback_timezone: "Mars/Olympus" is not an IANA time zone`},
		{"sources: {x: {kind: generic, call_window: {timezone: destination, fallback_timezone: Nowhere}}}\n",
			`sources.x.call_window.fallback_timezone: "Nowhere" is not an IANA time zone`},
		{"call_window: {timezone: Destination}\n",
			`call_window.timezone: "Destination" is not an IANA time zone such as America/Montevideo, or destination`},
	}
	for _, c := range cases {
		_, err := Load(writeFile(t, c.file), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", strings.TrimSpace(c.file), err, c.want)
		}
	}
}
