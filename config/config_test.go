package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dialhook.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.DedupWindow.D() != 24*time.Hour || c.Retention.D() != 720*time.Hour ||
		c.Workers != 8 || c.ClaimIdle.D() != time.Minute || c.RetryMax != 5 || c.Concurrency != 16 ||
		c.QueueMax != 100000 || c.UContact.Timeout.D() != 15*time.Second || c.ShutdownTimeout.D() != 20*time.Second ||
		c.MaxBodyBytes != 1<<20 || c.LogFormat != "json" || c.UContact.Configured() {
		t.Fatalf("defaults = %+v", c)
	}
	if names := c.SourceNames(); len(names) != 1 || names[0] != "generic" || c.Sources["generic"].Kind != "generic" {
		t.Fatalf("default sources = %v", names)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	p := writeFile(t, `
listen: ":9000"
workers: 3
ucontact:
  base_url: https://file.example
  token: ${TOKEN_FROM_ENV}
`)
	c, err := Load(p, env(map[string]string{
		"TOKEN_FROM_ENV": "secret-token", "DIALHOOK_WORKERS": "4", "UCONTACT_TIMEOUT": "20s", "DIALHOOK_RETRY_UNKNOWN": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9000" || c.Workers != 4 || c.UContact.Token != "secret-token" || c.UContact.Timeout.D() != 20*time.Second || !c.RetryUnknown {
		t.Fatalf("config = %+v", c)
	}
	if c.UContact.URL() != "https://file.example" || !c.UContact.Configured() {
		t.Fatalf("ucontact = %+v", c.UContact)
	}
}

func TestInstanceURL(t *testing.T) {
	c, err := Load("", env(map[string]string{"UCONTACT_INSTANCE": "acme", "UCONTACT_USER": "api", "UCONTACT_PASSWORD": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.UContact.URL() != "https://acme.ucontactcloud.com" {
		t.Fatalf("url = %s", c.UContact.URL())
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	p := writeFile(t, `
redis_url: "http://nope"
log_format: xml
sources:
  "Bad Name":
    kind: ""
  ok:
    kind: generic
    call_window: {timezone: Mars/Olympus, days: [someday], start: "25:00"}
unknown_key: 1
`)
	_, err := Load(p, env(map[string]string{
		"DIALHOOK_WORKERS": "many", "DIALHOOK_DEDUP_WINDOW": "0s", "UCONTACT_BASE_URL": "ftp://x", "DIALHOOK_QUEUE_MAX": "0",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"unknown_key", "DIALHOOK_WORKERS", `"many" is not a whole number`, "dedup_window", "UCONTACT_BASE_URL",
		"no credentials", "queue_max", "log_format", "redis_url", "sources.Bad Name", "sources.Bad Name.kind",
		"sources.ok.call_window.timezone", "days", "start",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
}

func TestMissingVariableIsAProblem(t *testing.T) {
	p := writeFile(t, "admin_token: ${NOT_SET}\n")
	_, err := Load(p, env(nil))
	if err == nil || !strings.Contains(err.Error(), "${NOT_SET}") {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialPairs(t *testing.T) {
	cases := map[string]map[string]string{
		"token and user":         {"UCONTACT_BASE_URL": "https://a.example", "UCONTACT_TOKEN": "t", "UCONTACT_USER": "u", "UCONTACT_PASSWORD": "p"},
		"user without password":  {"UCONTACT_BASE_URL": "https://a.example", "UCONTACT_USER": "u"},
		"token without base url": {"UCONTACT_TOKEN": "t"},
		"base url and instance":  {"UCONTACT_BASE_URL": "https://a.example", "UCONTACT_INSTANCE": "a", "UCONTACT_TOKEN": "t"},
		"claim idle too short":   {"DIALHOOK_CLAIM_IDLE": "10s"},
		"retention below dedup":  {"DIALHOOK_RETENTION": "1h", "DIALHOOK_DEDUP_WINDOW": "2h"},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load("", env(e)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestSummaryMasksSecrets(t *testing.T) {
	c, err := Load("", env(map[string]string{
		"DIALHOOK_REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0", "DIALHOOK_ADMIN_TOKEN": "admintok",
		"UCONTACT_BASE_URL": "https://a.example", "UCONTACT_USER": "api", "UCONTACT_PASSWORD": "pw-secret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(strings.Join(strings.Fields(fmt.Sprintf("%v", c.Summary())), " "), "\n", " ")
	for _, secret := range []string{"hunter2", "admintok", "pw-secret"} {
		if strings.Contains(s, secret) {
			t.Errorf("summary shows %q: %s", secret, s)
		}
	}
	if !strings.Contains(s, "127.0.0.1:6379") {
		t.Errorf("summary lost the redis host: %s", s)
	}
}

func TestDurationYAML(t *testing.T) {
	p := writeFile(t, "dedup_window: 90\nretention: 48h\n")
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DedupWindow.D() != 90*time.Second || c.Retention.D() != 48*time.Hour {
		t.Fatalf("durations = %v %v", c.DedupWindow.D(), c.Retention.D())
	}
	p = writeFile(t, "dedup_window: soon\n")
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Fatalf("err = %v", err)
	}
}

// A malformed Redis URL is reported without its password, whichever part
// of it is wrong.
func TestRedisPasswordNeverInErrors(t *testing.T) {
	for _, u := range []string{
		"redis://:s3cretpw@[::1:6379/0",
		"redis://user:s3cretpw@host:6379/0\x7f",
		"redis://user:s3cretpw@host:6379/notanumber",
		"redis://user:s3cretpw@host:6379/0?bogus=1",
		"http://user:s3cretpw@host:6379/0",
		// A password's unescaped / # or ?: url.Parse quotes it as a port.
		"redis://default:ab+s3cretpw/xyz==@host:6379",
		"redis://default:ab#s3cretpw@host:6379",
		"redis://default:ab?s3cretpw@host:6379",
		"redis://default:12/s3cretpw@host:6379/0",
		// Scheme typos.
		"rediss//:s3cretpw@x", "redis:/:s3cretpw@h", "redis::s3cretpw@h",
		// An option Redis alone does not take, and its value.
		"redis://host:6379/0?password=s3cretpw",
		"redis://host:6379/0?master=m&sentinel_password=s3cretpw",
		// A password in the wrong variable, or pieces of one in a path,
		// an option's value or name.
		"Zq9Xk7s3cretpw", "redis://h:6379/s3cretpw", "redis://u:12/s3cretpw", "redis://h:6379/0?pool_size=s3cretpw",
		"redis://h:6379/0?s3cretpw",
		// A query url.ParseQuery refuses (the password would be dropped
		// without a word), or a # that cuts a value short.
		"redis://127.0.0.1:7641/0?password=s3cretpw%zz", "redis://s1:26379/0?master=m&password=s3cretpw%zz",
		"redis://s1:26379/0?master=m&password=ab#s3cretpw",
	} {
		_, err := Load("", env(map[string]string{"DIALHOOK_REDIS_URL": u}))
		if err == nil {
			t.Errorf("%q accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("error for a bad URL shows the password: %v", err)
		}
	}
	// No part of a wrong URL is shown (which part is a password cannot be
	// told); the error says what to do.
	for u, want := range map[string]string{
		"redis://default:ab+s3cretpw/xyz==@host:6379": "percent-encode special characters in the password",
		"redis://127.0.0.1:7641/0?password=SECRET%zz": "the URL's query cannot be read: percent-encode",
		"Zq9Xk7SECRET": "must start with redis:// or rediss:// (the value is not shown: it may be a password)",
	} {
		_, err := Load("", env(map[string]string{"DIALHOOK_REDIS_URL": u}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error for %s does not say what to do: %v", u, err)
		} else if msg := err.Error(); strings.Contains(msg, "host") || strings.Contains(msg, "xyz") || strings.Contains(msg, "7641") || strings.Contains(msg, "Zq9") {
			t.Errorf("error for %s shows part of it: %v", u, err)
		}
	}
	// A Sentinel URL may carry the master's password as ?password=.
	c, err := Load("", env(map[string]string{"DIALHOOK_REDIS_URL": "redis://s1:26379/0?master=m&password=s3cretpw"}))
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(c.Summary()); strings.Contains(s, "s3cretpw") || !strings.Contains(s, "s1:26379") {
		t.Errorf("summary: %s", s)
	}
}

// phone.allow_letters and phone.allow_invalid are read from the file and
// are off unless set.
func TestPhoneOptIns(t *testing.T) {
	c, err := Load(writeFile(t, "phone: {default_region: UY}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Phone.AllowLetters || c.Phone.AllowInvalid {
		t.Fatalf("opt-ins on by default: %+v", c.Phone)
	}
	c, err = Load(writeFile(t, "phone:\n  default_region: UY\n  allow_letters: true\n  allow_invalid: true\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Phone.AllowLetters || !c.Phone.AllowInvalid || c.Phone.DefaultRegion != "UY" {
		t.Fatalf("phone = %+v", c.Phone)
	}
	if _, err := Load(writeFile(t, "phone: {allow_letters: maybe}\n"), env(nil)); err == nil {
		t.Fatal("accepted allow_letters: maybe")
	}
}
