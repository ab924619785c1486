package main

import (
	"os"
	"strings"
	"testing"
)

// Every direct dependency in go.mod is named, with why, in the
// Development chapter (docs/development.md), and the README's summary names
// each one too; a dependency added without a word fails here.
func TestDependenciesExplained(t *testing.T) {
	raw, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("docs/development.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range directRequires(string(raw)) {
		n++
		if !strings.Contains(string(doc), "`"+path+"`") {
			t.Errorf("docs/development.md does not explain the direct dependency %s", path)
		}
	}
	if n == 0 {
		t.Fatal("no direct dependency read from go.mod")
	}
}

// directRequires reads the module paths of go.mod's require lines that are
// not marked indirect (go.mod's syntax is simple enough not to need
// golang.org/x/mod for this).
func directRequires(gomod string) []string {
	var out []string
	inBlock := false
	for _, line := range strings.Split(gomod, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && !strings.Contains(line, "// indirect") {
			out = append(out, f[0])
		}
	}
	return out
}
