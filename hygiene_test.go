package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const testredisPath = "dialhook/internal/testredis"

// testredisUse is what a package's test files do with testredis.
type testredisUse struct {
	uses  []string // files that import it
	mains bool     // a TestMain calls testredis.Main
}

// A package whose tests use testredis (URL starts a redis-server shared by
// the test binary) has a TestMain that calls testredis.Main, which stops
// it: without one, `go test` (or a benchmark) leaves a redis-server running.
func TestTestredisPackagesHaveMain(t *testing.T) {
	pkgs := map[string]*testredisUse{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		name, ok := importName(f, testredisPath)
		if !ok {
			return nil
		}
		u := pkgs[filepath.Dir(p)]
		if u == nil {
			u = &testredisUse{}
			pkgs[filepath.Dir(p)] = u
		}
		u.uses = append(u.uses, filepath.Base(p))
		u.mains = u.mains || callsInTestMain(f, name, "Main")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no test file imports testredis: the check looks in the wrong place")
	}
	dirs := make([]string, 0, len(pkgs))
	for dir := range pkgs {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		if u := pkgs[dir]; !u.mains {
			t.Errorf("%s: its tests use testredis (%s) but no TestMain calls testredis.Main: add %s/testmain_test.go with\n"+
				"\tfunc TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }", dir, strings.Join(u.uses, ", "), dir)
		}
	}
}

// importName is the name f refers to path by, if f imports it.
func importName(f *ast.File, path string) (string, bool) {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name, true
			}
			return path[strings.LastIndex(path, "/")+1:], true
		}
	}
	return "", false
}

// callsInTestMain reports whether f's TestMain calls pkg.fn.
func callsInTestMain(f *ast.File, pkg, fn string) bool {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Name.Name != "TestMain" || fd.Body == nil {
			continue
		}
		found := false
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == fn {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg {
						found = true
					}
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}
