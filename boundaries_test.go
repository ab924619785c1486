package main

import (
	"os/exec"
	"strings"
	"testing"
)

// boundaryRule: the packages pkgs (import paths; a trailing /... takes the
// subpackages) must not import (directly, in production files) any path
// equal to or under one of deny; allow exempts importers.
type boundaryRule struct {
	what  string
	pkgs  []string
	deny  []string
	allow []string
	// permit exempts imports: a package under deny that is still allowed.
	permit []string
}

const (
	echoPath  = "github.com/labstack/echo"
	redisPath = "github.com/redis/go-redis"
)

// boundaryRules are the lines the package docs draw.
var boundaryRules = []boundaryRule{
	{what: "only handlers imports Echo", pkgs: []string{"dialhook/..."}, deny: []string{echoPath}, allow: []string{"dialhook/handlers"}},
	{what: "only store imports go-redis", pkgs: []string{"dialhook/..."}, deny: []string{redisPath},
		allow: []string{"dialhook/store", "dialhook/store/", "dialhook/internal/testredis"}},
	{what: "only the load harness reads Redis' own accounting", pkgs: []string{"dialhook/..."},
		deny: []string{"dialhook/store/redisinspect"}, allow: []string{"dialhook/bench"}},
	{what: "only tests and the load harness use the test samples", pkgs: []string{"dialhook/..."},
		deny: []string{"dialhook/internal/samples"}, allow: []string{"dialhook/bench"}},
	// The load harness serves handlers.Baseline, the bare Echo yardstick.
	{what: "only main (and the load harness, for its baseline) imports handlers", pkgs: []string{"dialhook/..."},
		deny: []string{"dialhook/handlers"}, allow: []string{"dialhook", "dialhook/bench"}},
	{what: "mapping does no I/O and imports no dialhook package but ucontact and suggest", pkgs: []string{"dialhook/mapping"},
		deny: []string{"net", "os", "io/fs", "dialhook/"}, permit: []string{"dialhook/ucontact", "dialhook/internal/suggest"}},
	{what: "config describes, it does not connect", pkgs: []string{"dialhook/config"},
		deny:   []string{"net/http", echoPath, redisPath, "dialhook/store", "dialhook/handlers", "dialhook/intake", "dialhook/dispatch", "dialhook/console"},
		permit: []string{"dialhook/store/redisurl"}},
	{what: "enrich never answers webhooks nor dials", pkgs: []string{"dialhook/enrich"},
		deny: []string{echoPath, redisPath, "dialhook/handlers", "dialhook/intake", "dialhook/dispatch"}},
	{what: "outage stands alone", pkgs: []string{"dialhook/internal/outage"}, deny: []string{"dialhook/"}},
	{what: "suggest stands alone", pkgs: []string{"dialhook/internal/suggest"}, deny: []string{"dialhook/"}},
	{what: "testredis is for tests only", pkgs: []string{"dialhook/..."}, deny: []string{"dialhook/internal/testredis"}},
	{what: "intake knows no HTTP, Echo or Redis", pkgs: []string{"dialhook/intake"},
		deny: []string{"net/http", echoPath, redisPath, "dialhook/handlers", "dialhook/dispatch", "dialhook/crmapi", "dialhook/ucontact"}},
	{what: "crm is pure", pkgs: []string{"dialhook/crm"},
		deny: []string{echoPath, redisPath, "dialhook/store", "dialhook/intake", "dialhook/handlers", "dialhook/dispatch", "dialhook/crmapi"}},
	{what: "store knows nothing of where events come from", pkgs: []string{"dialhook/store", "dialhook/store/..."},
		deny: []string{echoPath, "dialhook/crm", "dialhook/intake", "dialhook/handlers", "dialhook/dispatch", "dialhook/mapping"}},
	{what: "ucontact and crmapi stand alone", pkgs: []string{"dialhook/ucontact", "dialhook/crmapi", "dialhook/schedule"}, deny: []string{"dialhook/"}},
	{what: "dispatch reaches the store through its interface", pkgs: []string{"dialhook/dispatch"},
		deny: []string{echoPath, redisPath, "dialhook/handlers", "dialhook/intake"}},
	{what: "console reads the store through its interface", pkgs: []string{"dialhook/console"},
		deny: []string{echoPath, redisPath, "dialhook/handlers", "dialhook/dispatch"}},
	{what: "access stands alone", pkgs: []string{"dialhook/internal/access"}, deny: []string{"dialhook/", echoPath}},
	{what: "the browser driver is for the browser tests only", pkgs: []string{"dialhook/..."}, deny: []string{"github.com/chromedp"}},
	// notify signs and sends one attempt; the queue, the worker and the
	// records are the caller's, so it needs nothing of dialhook.
	{what: "writeback talks to CRMs through crmapi, to the store through its types", pkgs: []string{"dialhook/writeback"},
		deny: []string{echoPath, redisPath, "dialhook/handlers", "dialhook/intake", "dialhook/dispatch"}},
	{what: "notify stands alone", pkgs: []string{"dialhook/notify"}, deny: []string{"dialhook/", echoPath, redisPath}},
}

// listImports runs go list over the module: package → its imports,
// production files only.
func listImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		m[pkg] = strings.Fields(imports)
	}
	return m
}

func matches(pkg string, patterns []string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if pkg == base || strings.HasPrefix(pkg, base+"/") {
				return true
			}
		} else if pkg == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(pkg, p)) {
			return true
		}
	}
	return false
}

func denied(imp string, deny []string) bool {
	for _, d := range deny {
		if imp == d || strings.HasPrefix(imp, d+"/") || (strings.HasSuffix(d, "/") && strings.HasPrefix(imp, d)) {
			return true
		}
	}
	return false
}

// The import lines the package docs draw hold: a package that crosses one
// fails this test (and CI).
func TestImportBoundaries(t *testing.T) {
	graph := listImports(t)
	for _, r := range boundaryRules {
		for pkg, imports := range graph {
			if !matches(pkg, r.pkgs) || matches(pkg, r.allow) {
				continue
			}
			for _, imp := range imports {
				if denied(imp, r.deny) && !denied(imp, r.permit) && imp != pkg && !strings.HasPrefix(imp, pkg+"/") {
					t.Errorf("%s: %s imports %s", r.what, pkg, imp)
				}
			}
		}
	}
}
