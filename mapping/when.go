package mapping

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/tidwall/gjson"
)

// condition is a compiled `when` expression and what it reads from the record.
type condition struct {
	src     string
	prog    *vm.Program
	full    bool       // decode the whole record
	paths   [][]string // otherwise only these key chains (e.g. properties.lifecyclestage.value)
	gpaths  []string   // the same as gjson paths
	usesEnv bool       // the event variable is referenced
}

// usage records which parts of the record an expression reads, so that Map
// decodes only those instead of the whole record. It runs on the tree before
// nilSafe rewrites it.
type usage struct {
	chains   map[ast.Node][]string // member chains of constant keys rooted at an identifier
	consumed map[ast.Node]bool     // chains extended by a longer chain
	idents   []*ast.IdentifierNode
	calls    []string
}

func (u *usage) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		u.idents = append(u.idents, x)
		u.chains[x] = []string{x.Value}
	case *ast.MemberNode:
		key, ok := x.Property.(*ast.StringNode)
		base, pure := u.chains[x.Node]
		if ok && pure {
			u.consumed[x.Node] = true
			u.chains[x] = append(base[:len(base):len(base)], key.Value)
		}
	case *ast.CallNode:
		// No functions are registered, so any call that is not an expr
		// builtin is a mistake worth reporting at start-up.
		u.calls = append(u.calls, calleeName(x.Callee))
	}
}

// nilSafe makes every member access optional (a.b.c behaves as a?.b?.c), so
// that a condition on a field the record does not have is false instead of a
// runtime error.
type nilSafe struct{}

func (nilSafe) Visit(n *ast.Node) {
	if x, ok := (*n).(*ast.MemberNode); ok {
		x.Optional = true
		ast.Patch(n, &ast.ChainNode{Node: x})
	}
}

func calleeName(n ast.Node) string {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value
	case *ast.MemberNode:
		if s, ok := x.Property.(*ast.StringNode); ok {
			return s.Value
		}
	}
	return n.String()
}

func compileWhen(src string) (*condition, error) {
	u := &usage{chains: map[ast.Node][]string{}, consumed: map[ast.Node]bool{}}
	prog, err := expr.Compile(src, expr.AsBool(), expr.AllowUndefinedVariables(), expr.Patch(u), expr.Patch(nilSafe{}))
	if err != nil {
		return nil, fmt.Errorf("%s", firstLine(err.Error()))
	}
	if len(u.calls) > 0 {
		return nil, fmt.Errorf("unknown function %s()", u.calls[0])
	}
	c := &condition{src: src, prog: prog}
	seen := map[string]bool{}
	for node, chain := range u.chains {
		if u.consumed[node] {
			continue
		}
		switch chain[0] {
		case "event":
			c.usesEnv = true
			continue
		case "record", "$env":
			chain = chain[1:]
		}
		if len(chain) == 0 {
			c.full = true
			continue
		}
		if k := strings.Join(chain, "\x00"); !seen[k] {
			seen[k] = true
			c.paths = append(c.paths, chain)
		}
	}
	if c.full {
		c.paths = nil
		return c, nil
	}
	// Shorter chains first: a chain under one already decoded is skipped.
	sort.Slice(c.paths, func(i, j int) bool {
		if len(c.paths[i]) != len(c.paths[j]) {
			return len(c.paths[i]) < len(c.paths[j])
		}
		return strings.Join(c.paths[i], ".") < strings.Join(c.paths[j], ".")
	})
	kept := c.paths[:0]
	for _, p := range c.paths {
		covered := false
		for _, q := range kept {
			if len(q) <= len(p) && equalStrings(q, p[:len(q)]) {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, p)
		}
	}
	c.paths = kept
	for _, p := range c.paths {
		esc := make([]string, len(p))
		for i, k := range p {
			esc[i] = gjson.Escape(k)
		}
		c.gpaths = append(c.gpaths, strings.Join(esc, "."))
	}
	return c, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eval runs the condition. The environment holds the record's top-level
// keys, the whole record as "record" (for keys such as "portal-id") and the
// event's metadata as "event"; record and event win over top-level keys of
// the same name.
func (c *condition) eval(ev *Event) (bool, error) {
	var rec map[string]any
	if c.full {
		rec, _ = gjson.ParseBytes(ev.Record).Value().(map[string]any)
	} else if len(c.paths) > 0 {
		rec = c.decode(ev.Record)
	}
	if rec == nil {
		rec = map[string]any{}
	}
	env := make(map[string]any, len(rec)+2)
	for k, v := range rec {
		env[k] = v
	}
	env["record"] = rec
	if c.usesEnv || c.full {
		env["event"] = map[string]any{
			"source":      ev.Source,
			"kind":        ev.Kind,
			"object_type": ev.ObjectType,
			"record_id":   ev.RecordID,
			"action":      ev.Action,
		}
	}
	out, err := expr.Run(c.prog, env)
	if err != nil {
		return false, fmt.Errorf("%s", firstLine(err.Error()))
	}
	switch b := out.(type) {
	case bool:
		return b, nil
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("condition gave %T, not true or false", out)
}

// decode builds a map holding only the parts of record the condition reads.
func (c *condition) decode(record []byte) map[string]any {
	s := string(record)
	root := map[string]any{}
	results := gjson.GetMany(s, c.gpaths...)
	for i, p := range c.paths {
		r := results[i]
		if !r.Exists() {
			continue
		}
		m := root
		for _, k := range p[:len(p)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[p[len(p)-1]] = r.Value()
	}
	return root
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
