package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
