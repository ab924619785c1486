package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	maxFuncLines = 80  // a function a reader can hold in their head
	maxFileLines = 500 // a file about one thing
)

// Production code stays readable: no function over maxFuncLines lines and
// no file over maxFileLines. The longest functions are printed either way.
func TestCodeSize(t *testing.T) {
	type sized struct {
		name  string
		lines int
	}
	var funcs, files []sized
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, sized{p, fset.Position(f.End()).Line})
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				funcs = append(funcs, sized{p + ":" + fd.Name.Name, n})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].lines > funcs[j].lines })
	for i, f := range funcs[:min(5, len(funcs))] {
		t.Logf("longest function %d: %s, %d lines", i+1, f.name, f.lines)
		if f.lines > maxFuncLines {
			t.Errorf("%s is %d lines (at most %d)", f.name, f.lines, maxFuncLines)
		}
	}
	for _, f := range files {
		if f.lines > maxFileLines {
			t.Errorf("%s is %d lines (at most %d)", f.name, f.lines, maxFileLines)
		}
	}
}
