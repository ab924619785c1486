package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dockerignored reports whether .dockerignore's patterns leave path (slash
// separated, relative to the context) out: a pattern matches the path or
// one of its parent directories; "**/" matches at any depth.
func dockerignored(patterns []string, path string) bool {
	parts := strings.Split(path, "/")
	for _, p := range patterns {
		p = strings.TrimPrefix(p, "/")
		deep, anyDepth := strings.CutPrefix(p, "**/")
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			if ok, _ := filepath.Match(p, prefix); ok {
				return true
			}
			if anyDepth {
				for j := 0; j < i; j++ {
					if ok, _ := filepath.Match(deep, strings.Join(parts[j:i], "/")); ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// The Docker build context that .dockerignore leaves holds everything
// `go build .` (the Dockerfile's build step) reads — go.mod, go.sum and
// every source and embedded file of every package of this module the
// binary depends on — and none of the docs, bench, tests or examples. (This
// machine has no Docker engine to build the image itself.)
func TestDockerContextHasTheBuild(t *testing.T) {
	f, err := os.Open(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	f.Close()
	out, err := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .GoFiles " "}} {{join .EmbedFiles " "}}{{end}}{{end}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := os.Getwd()
	needed := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "|")
		rel, _ := filepath.Rel(root, dir)
		for _, f := range strings.Fields(files) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	for _, n := range needed {
		if dockerignored(patterns, n) {
			t.Errorf("%s is needed by go build but .dockerignore leaves it out", n)
		}
	}
	for _, left := range []string{"docs", "bench", "examples", "main_test.go", "crm/testdata/x.json", "internal/samples", "README.md"} {
		if !dockerignored(patterns, left) {
			t.Errorf("%s is in the build context", left)
		}
	}
}
