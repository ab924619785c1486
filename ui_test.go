package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"dialhook/config"
	"dialhook/store"
)

// The console main builds describes each source without its credentials,
// and `console: false` leaves it off.
func TestConsoleFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(`
ucontact:
  instance: acme
  token: uc-token-secret-111
call_window: {timezone: America/Montevideo, days: [mon, fri], start: "09:00", end: "18:00"}
sources:
  hs:
    kind: hubspot
    secret: hs-secret-value-222
    cooldown: 10m
    writeback: {token: pat-writeback-token-444}
  pd:
    kind: pipedrive
    basic_auth: {user: dialhook, password: pd-password-333}
    when: 'priority == "high"'
notify:
  - {name: flow, url: "https://example.com/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sources, _, err := buildSources(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory(store.MemoryOptions{})
	h := newConsole(&cfg, st, sources, nil, zap.NewNop())
	if h == nil {
		t.Fatal("the console is off by default")
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/sources", nil)
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /ui/sources: %d %s", rec.Code, body)
	}
	for _, want := range []string{"hs <small>hubspot</small>", "pd <small>pipedrive</small>", "set: secret", "set: basic_auth", "writeback.token",
		"mon, fri 09:00–18:00 America/Montevideo", "<dd>10m</dd>", "http://example.com/webhooks/hs"} {
		if !strings.Contains(body, want) {
			t.Errorf("the sources page lacks %q", want)
		}
	}
	for _, secret := range []string{"uc-token-secret-111", "hs-secret-value-222", "pd-password-333", "pat-writeback-token-444",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		if strings.Contains(body, secret) {
			t.Errorf("the sources page shows %q", secret)
		}
		if !slices.Contains(configSecrets(&cfg), secret) {
			t.Errorf("configSecrets lacks %q", secret)
		}
	}
	cfg.Console = false
	if newConsole(&cfg, st, sources, nil, zap.NewNop()) != nil {
		t.Error("console: false still builds the console")
	}
}

// The console redacts a Sentinel URL's ?password= as well as the user
// info's password.
func TestConfigSecretsRedisURL(t *testing.T) {
	cfg := config.Config{RedisURL: "redis://:sentinel-pw@s1:26379/0?master=m&password=master-pw"}
	got := configSecrets(&cfg)
	for _, s := range []string{"sentinel-pw", "master-pw"} {
		if !slices.Contains(got, s) {
			t.Errorf("configSecrets lacks %q: %q", s, got)
		}
	}
}
