package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dialhook/config"
)

// TestBuildSourcesAdapterWarnings: an adapter's start-up warnings (here a
// Standard Webhooks secret without the whsec_ prefix) reach the warnings
// serve logs, once per source.
func TestBuildSourcesAdapterWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(`
sources:
  svix:
    kind: standard
    secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
  canonical:
    kind: standard
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sources, warnings, err := buildSources(&cfg)
	if err != nil || len(sources) != 2 {
		t.Fatalf("buildSources: %d sources, %v", len(sources), err)
	}
	var found []string
	for _, w := range warnings {
		if strings.Contains(w, "whsec_") {
			found = append(found, w)
		}
	}
	if len(found) != 1 || !strings.Contains(found[0], `source "svix"`) || strings.Contains(found[0], "MfKQ9r8G") {
		t.Errorf("secret warnings %q, want one for source svix that does not disclose the secret", found)
	}
}

// TestStartupListsConfigAndSourceProblemsTogether: one start-up lists the
// file's unknown keys and bad values with the sources' adapter and mapping
// problems, each at its line; a file that is not YAML is reported alone.
func TestStartupListsConfigAndSourceProblemsTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string { return map[string]string{"DIALHOOK_CONFIG": path}[k] }
	write(`lisen: ":9000"
workers: many
sources:
  crm:
    kind: hubspot
    mapping:
      destination: "properties..phone"
  other:
    knd: generic
`)
	err := run(context.Background(), nil, getenv, nil, io.Discard, io.Discard)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	want := []string{
		path + ":1:1: lisen: unknown key; did you mean `listen`?",
		path + `:2:10: workers: "many" is not a whole number`,
		path + ":9:5: sources.other.knd: unknown key; did you mean `kind`?",
		path + `:4:3: sources.crm: source "crm": kind hubspot needs secret`,
		path + `:7:7: sources.crm.mapping.destination: path "properties..phone"`,
	}
	if len(ce.Problems) != len(want) {
		t.Fatalf("problems:\n  %s", strings.Join(ce.Problems, "\n  "))
	}
	for i, w := range want {
		if !strings.HasPrefix(ce.Problems[i], w) {
			t.Errorf("problem %d = %q, want it to start %q", i, ce.Problems[i], w)
		}
	}
	write("sources:\n  crm:\n    kind: hubspot\n  bad: [indent\n")
	err = run(context.Background(), nil, getenv, nil, io.Discard, io.Discard)
	if !errors.Is(err, config.ErrSyntax) || !errors.As(err, &ce) || len(ce.Problems) != 1 ||
		!strings.HasPrefix(ce.Problems[0], path+":") || !strings.Contains(ce.Problems[0], "YAML syntax error") {
		t.Fatalf("syntax error: %v", err)
	}
}

// TestRedisPasswordNeverLogged: a password given as a URL option (Sentinel's
// ?password=) is masked in the "dialhook starting" summary and in the
// "redis is not answering" warning (which a Sentinel URL pointing nowhere
// takes about 10 s to give).
func TestRedisPasswordNeverLogged(t *testing.T) {
	env := map[string]string{"UCONTACT_BASE_URL": "http://127.0.0.1:1", "UCONTACT_TOKEN": "dG9rZW4=", "DIALHOOK_ADDR": freePort(t),
		"DIALHOOK_REDIS_URL": "redis://" + freePort(t) + "/0?master=mymaster&password=s3cr3tpw"}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, nil, logs, logs) }()
	for i := 0; i < 1200 && !strings.Contains(logs.String(), "redis is not answering"); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	cancel()
	<-done
	text := logs.String()
	for _, want := range []string{"dialhook starting", "redis is not answering", "password=xxxxx"} {
		if !strings.Contains(text, want) {
			t.Errorf("the log lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "s3cr3tpw") {
		t.Errorf("the log shows the password:\n%s", text)
	}
}
