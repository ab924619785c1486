package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs dialhook like main does and returns the exit code and what it
// printed on stdout and stderr.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	var in *strings.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	var stdinReader interface{ Read([]byte) (int, error) }
	if in != nil {
		stdinReader = in
	}
	err := run(context.Background(), args, func(k string) string { return env[k] }, stdinReader, &out, &errOut)
	return exitCode(err, &errOut), out.String(), errOut.String()
}

// The usage lists every command, flag and environment variable.
func wantUsage(t *testing.T, where, text string) {
	t.Helper()
	for _, want := range []string{"serve", "check", "map", "secret", "version", "help", "--config", "--source", "--file",
		"DIALHOOK_ADDR", "DIALHOOK_REDIS_URL", "DIALHOOK_ADMIN_TOKEN", "UCONTACT_TOKEN", "DIALHOOK_STORE_TIMEOUT"} {
		if !strings.Contains(text, want) {
			t.Errorf("%s: usage lacks %q:\n%s", where, want, text)
		}
	}
}

func TestHelpExitsZeroWithUsage(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"--config", "x.yaml", "-h"}, {"help", "help"}} {
		code, out, errOut := cli(t, nil, "", args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		wantUsage(t, strings.Join(args, " "), out)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if code, out, _ := cli(t, nil, "", args...); code != 0 || out != "dialhook dev\n" {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// CMD -h, CMD --help and help CMD print that command's usage: what it
// does, its flags with their defaults, the environment it reads (or where
// every setting is listed), then the other commands; exit 0.
func TestCommandHelp(t *testing.T) {
	settings := "dialhook help settings / docs/settings.md"
	want := map[string][]string{
		"serve":       {"--config FILE", "DIALHOOK_CONFIG", settings},
		"check":       {"--config FILE", "DIALHOOK_CONFIG", settings},
		"map":         {"--config FILE", "--source NAME", "--file FILE", "--content-type TYPE", "DIALHOOK_CONFIG", "map needs no credential", settings},
		"healthcheck": {"--url URL", "(default http://127.0.0.1:8080/readyz)", "DIALHOOK_ADDR"},
		"version":     {},
		"secret":      {},
	}
	for cmd, wants := range want {
		for _, args := range [][]string{{cmd, "-h"}, {cmd, "--help"}, {"help", cmd}} {
			where := strings.Join(args, " ")
			code, out, errOut := cli(t, nil, "", args...)
			if code != 0 || errOut != "" {
				t.Errorf("%s: exit %d, stderr %q", where, code, errOut)
			}
			if !strings.HasPrefix(out, "dialhook "+cmd+": ") || strings.Contains(out, "DIALHOOK_STORE_TIMEOUT") {
				t.Errorf("%s: not %s's own usage:\n%s", where, cmd, out)
			}
			_, others, ok := strings.Cut(out, "\nOther commands")
			for _, c := range commands {
				if ok && strings.Contains(others, "\n  "+c[0]+" ") == (c[0] == cmd) {
					t.Errorf("%s: the other commands list %s wrongly:\n%s", where, c[0], others)
				}
			}
			for _, w := range append(wants, "Other commands") {
				if !strings.Contains(out, w) {
					t.Errorf("%s: usage lacks %q:\n%s", where, w, out)
				}
			}
		}
	}
	code, out, _ := cli(t, nil, "", "help", "settings")
	if code != 0 || !strings.Contains(out, "DIALHOOK_STORE_TIMEOUT") || !strings.Contains(out, "UCONTACT_TOKEN") || !strings.Contains(out, "DIALHOOK_CONFIG") {
		t.Errorf("help settings: exit %d\n%s", code, out)
	}
	if code, _, errOut := cli(t, nil, "", "help", "nope"); code != 2 || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Errorf("help nope: exit %d\n%s", code, errOut)
	}
}

func TestUnknownCommandOrFlagExitsTwo(t *testing.T) {
	for _, args := range [][]string{{"nope"}, {"serve", "--bogus"}, {"check", "--nope=1"}, {"map", "extra-argument", "--source", "x"}, {"secret", "-x"}} {
		code, out, errOut := cli(t, nil, "", args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
		wantUsage(t, strings.Join(args, " "), errOut)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dialhook.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckCommand(t *testing.T) {
	good := writeConfig(t, "sources:\n  hs:\n    kind: hubspot\n    secret: ${HS_SECRET}\n")
	code, out, errOut := cli(t, map[string]string{"HS_SECRET": "s"}, "", "check", "--config", good)
	if code != 0 || !strings.Contains(out, "configuration OK") || !strings.Contains(out, "/webhooks/hs") {
		t.Fatalf("good config: exit %d\n%s%s", code, out, errOut)
	}
	bad := writeConfig(t, "workers: 0\nsources:\n  hs:\n    kind: hubspot\n")
	code, out, errOut = cli(t, nil, "", "check", "--config", bad)
	if code != 1 || !strings.Contains(errOut, "workers") || !strings.Contains(errOut, "secret") || strings.Contains(out, "OK") {
		t.Fatalf("bad config: exit %d\n%s%s", code, out, errOut)
	}
	// A misspelled kind: once, at the kind: line, with the kind meant.
	typo := writeConfig(t, "sources:\n  hs:\n    kind: hubspott\n    secret: s\n")
	code, _, errOut = cli(t, nil, "", "check", "--config", typo)
	if code != 1 || !strings.Contains(errOut, typo+":3:5: sources.hs.kind: unknown kind \"hubspott\"; did you mean `hubspot`?") ||
		strings.Count(errOut, "unknown kind") != 1 {
		t.Fatalf("misspelled kind: exit %d\n%s", code, errOut)
	}
}

// map needs no credential and no admin or uContact setting, reads the
// payload from a pipe or --file, and says what it waits for otherwise.
func TestMapNeedsNoCredentials(t *testing.T) {
	cfg := writeConfig(t, `admin_token: ${DIALHOOK_ADMIN_TOKEN}
ucontact: {instance: acme, token: "${UCONTACT_TOKEN}"}
defaults: {callerid: "59829001234", agent: "1001", phone: "1001", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
sources:
  hubspot: {kind: hubspot, secret: "${HUBSPOT_CLIENT_SECRET}"}
`)
	body := `{"vid": 7, "properties": {"phone": {"value": "099 123 456"}}}`
	code, out, errOut := cli(t, nil, body, "map", "--config", cfg, "--source", "hubspot")
	if code != 0 || !strings.Contains(out, `"destination": "59899123456"`) || !strings.Contains(out, `"outqueue": "Ventas->"`) {
		t.Fatalf("map from a pipe: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = cli(t, nil, "", "map", "--config", cfg, "--source", "hubspot")
	if code != 2 || !strings.Contains(errOut, "--file") {
		t.Fatalf("map without a payload: exit %d\n%s", code, errOut)
	}
}

func TestSecretCommand(t *testing.T) {
	code, out, _ := cli(t, nil, "", "secret")
	key, ok := strings.CutPrefix(strings.TrimSpace(out), "whsec_")
	raw, err := base64.StdEncoding.DecodeString(key)
	if code != 0 || !ok || err != nil || len(raw) != 32 {
		t.Fatalf("secret = exit %d %q", code, out)
	}
	if _, again, _ := cli(t, nil, "", "secret"); again == out {
		t.Fatal("two secrets are the same")
	}
}

// check names the notify endpoints it would send to (not their URLs,
// which may hold a token), and refuses a secret a receiver could not read,
// saying how to get one.
func TestCheckNotify(t *testing.T) {
	good := writeConfig(t, "notify:\n  - {name: crm, url: 'https://example.com/h?token=t0ken', secret: '${NOTIFY_SECRET}'}\n"+
		"  - {url: 'https://hooks.example.org/x', secret: '${NOTIFY_SECRET}', types: [call.completed]}\n")
	_, secret, _ := cli(t, nil, "", "secret")
	code, out, errOut := cli(t, map[string]string{"NOTIFY_SECRET": strings.TrimSpace(secret)}, "", "check", "--config", good)
	if code != 0 || !strings.Contains(out, "  notify: crm, hooks.example.org\n") || strings.Contains(out, "t0ken") {
		t.Fatalf("check = exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = cli(t, map[string]string{"NOTIFY_SECRET": "s3cret"}, "", "check", "--config", good)
	if code != 1 || !strings.Contains(errOut, "notify[0].secret: the secret does not start with whsec_; `dialhook secret` prints a new one") ||
		strings.Contains(errOut, "s3cret") {
		t.Fatalf("check with a bad secret = exit %d\n%s", code, errOut)
	}
}

// healthcheck exits 0 against a ready dialhook and 1 when nothing answers.
func TestHealthcheckCommand(t *testing.T) {
	base, _ := startService(t, map[string]string{})
	if code, out, errOut := cli(t, nil, "", "healthcheck", "--url", base+"/readyz"); code != 0 || out != "ready\n" {
		t.Fatalf("healthcheck of a running dialhook: exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, nil, "", "healthcheck", "--url", "http://"+freePort(t)+"/readyz"); code != 1 || errOut == "" {
		t.Fatalf("healthcheck of nothing: exit %d %q", code, errOut)
	}
}

// map needs none of a source's credentials, even one whose check would
// refuse a half-set credential (pipedrive's basic_auth).
func TestMapWithoutSourceCredentials(t *testing.T) {
	cfg := writeConfig(t, `defaults: {callerid: "59829001234", agent: "1001", phone: "1001", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
sources:
  pipedrive: {kind: pipedrive, basic_auth: {user: dialhook, password: "${PIPEDRIVE_WEBHOOK_PASSWORD}"}}
`)
	body := `{"meta":{"action":"create","entity":"person","entity_id":"7","id":"a1b2"},"data":{"id":7,"phones":[{"value":"099 123 456","primary":true}]}}`
	if code, out, errOut := cli(t, nil, body, "map", "--config", cfg, "--source", "pipedrive"); code != 0 || !strings.Contains(out, `"would_be": "queued"`) {
		t.Fatalf("map: exit %d\n%s\n%s", code, out, errOut)
	}
}

// The start-up warnings of a source say where the source is, as the
// mapping's do: Close without api_key, allow_unauthenticated.
func TestSourceWarningsSayWhere(t *testing.T) {
	cfg := writeConfig(t, `defaults: {callerid: "59829001234", agent: "1001", phone: "1001", context: agentes, outqueue: "Ventas->"}
sources:
  close:
    kind: close
    secret: 0123456789abcdef0123456789abcdef
  hs:
    kind: hubspot
    allow_unauthenticated: true
`)
	code, out, errOut := cli(t, nil, "", "check", "--config", cfg)
	if code != 0 || !strings.Contains(out, "warning: "+cfg+`:3:3: source "close" (kind close) has no api_key: `) ||
		!strings.Contains(out, "warning: "+cfg+`:8:5: source "hs" (kind hubspot) accepts unauthenticated webhooks`) {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
}

// A bare word that names no known field of the kind's records is read as a
// path; start-up (and check) says so and how to write a constant.
func TestBareWordMappingWarning(t *testing.T) {
	cfg := writeConfig(t, `defaults: {callerid: "59829001234", agent: "1001", phone: "1001", outqueue: "Ventas->"}
sources:
  generic:
    kind: generic
    mapping:
      context: agentes
      destination: destination
`)
	code, out, errOut := cli(t, nil, "", "check", "--config", cfg)
	if code != 0 || !strings.Contains(out, `:6:`) || !strings.Contains(out, `context: {value: "agentes"}`) || strings.Contains(out, `"destination" is read`) {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
}
