package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"dialhook/internal/suggest"
)

// checker compares the file's YAML nodes with the Go types they decode
// into, before anything is decoded. It reports each problem under the key
// path the user wrote (never a Go type name) at its line, and drops the
// bad entries from the tree, so that one bad value hides nothing: the
// rest is decoded and validated in the same round.
type checker struct {
	col      *collector
	visiting map[*yaml.Node]bool // alias targets being followed, against cycles
	budget   int                 // nodes left to visit: aliases can multiply a small file
	secret   int                 // > 0 inside a field tagged secret: never quote its values
}

// maxNodes bounds the walk; a config file has hundreds of nodes, a file
// whose aliases expand to millions is refused rather than walked.
const maxNodes = 100_000

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func newChecker(col *collector) *checker {
	return &checker{col: col, visiting: map[*yaml.Node]bool{}, budget: maxNodes}
}

// value checks n against t and reports whether n may stay in the tree.
func (k *checker) value(n *yaml.Node, t reflect.Type, path string) bool {
	if k.budget--; k.budget < 0 {
		if k.budget == -1 {
			k.col.add(at(n), path, "the file's aliases expand to more than %d values; it was not checked further", maxNodes)
		}
		return false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		return k.alias(n, func(target *yaml.Node) bool { return k.value(target, t, path) }, path)
	}
	if n.Anchor != "" && !k.visiting[n] {
		// An alias inside its own anchor's value would loop.
		k.visiting[n] = true
		defer delete(k.visiting, n)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return true // "key:" with nothing after it leaves the default, as yaml.v3 does
	}
	switch kind := t.Kind(); {
	case reflect.PointerTo(t).Implements(unmarshalerType) || isScalar(kind):
		return k.scalar(n, t, path)
	case kind == reflect.Struct:
		return k.want(n, yaml.MappingNode, t, path) && k.structure(n, t, path)
	case kind == reflect.Map:
		return k.want(n, yaml.MappingNode, t, path) && k.entries(n, path, func(_ string, v *yaml.Node, p string) bool {
			return k.value(v, t.Elem(), p)
		})
	case kind == reflect.Slice:
		return k.want(n, yaml.SequenceNode, t, path) && k.list(n, t.Elem(), path)
	}
	// An interface (sources.NAME.mapping's rules) takes anything; the
	// mapping compiler checks it. Its keys are still walked, for their
	// lines and for repeated keys, which yaml.v3 would refuse.
	switch n.Kind {
	case yaml.MappingNode:
		return k.entries(n, path, func(_ string, v *yaml.Node, p string) bool { return k.value(v, t, p) })
	case yaml.SequenceNode:
		return k.list(n, t, path)
	}
	return true
}

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func isFloat(k reflect.Kind) bool { return k == reflect.Float32 || k == reflect.Float64 }

// alias follows *name to its anchor's value, refusing one that contains
// itself.
func (k *checker) alias(n *yaml.Node, check func(*yaml.Node) bool, path string) bool {
	if n.Alias == nil || k.visiting[n.Alias] {
		k.col.add(at(n), path, "the alias *%s refers to a value that contains it", n.Value)
		return false
	}
	k.visiting[n.Alias] = true
	defer delete(k.visiting, n.Alias)
	return check(n.Alias)
}

// scalar checks a single value by decoding it alone into t.
func (k *checker) scalar(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind != yaml.ScalarNode {
		k.mismatch(n, t, path)
		return false
	}
	err := n.Decode(reflect.New(t).Interface())
	var te *yaml.TypeError
	switch {
	case err == nil && !truncated(n, t):
		return true
	case err == nil, errors.As(err, &te):
		k.col.add(at(n), path, "%s is not %s", k.describe(n), wanted(t))
	default: // a Duration's own message
		k.col.add(at(n), path, "%v", err)
	}
	k.col.refused[path] = true
	return false
}

// truncated reports whether yaml.v3 would cut a fraction off to fit a
// whole number ("workers: 2.5" is 2 workers to it); 1e6 is whole and kept.
func truncated(n *yaml.Node, t reflect.Type) bool {
	if n.ShortTag() != "!!float" || isFloat(t.Kind()) || t.Kind() == reflect.String || t == durationType {
		return false
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	return err != nil || f != math.Trunc(f)
}

// want reports n unless it is a node of the kind t needs.
func (k *checker) want(n *yaml.Node, kind yaml.Kind, t reflect.Type, path string) bool {
	if n.Kind == kind {
		return true
	}
	k.mismatch(n, t, path)
	return false
}

func (k *checker) mismatch(n *yaml.Node, t reflect.Type, path string) {
	if path == "" {
		k.col.add(at(n), "", "the file must hold settings as `key: value` lines (e.g. `listen: \":8080\"`), not %s", k.describe(n))
		return
	}
	k.col.add(at(n), path, "got %s; want %s", k.describe(n), wanted(t))
	k.col.refused[path] = true
}

// structure checks a section's keys against the struct's yaml tags.
func (k *checker) structure(n *yaml.Node, t reflect.Type, path string) bool {
	names, fields := fieldsOf(t)
	return k.entries(n, path, func(name string, v *yaml.Node, p string) bool {
		f, ok := fields[name]
		if !ok {
			k.unknown(name, path, names)
			return false
		}
		if f.Tag.Get("secret") != "" {
			k.secret++
			defer func() { k.secret-- }()
		}
		return k.value(v, f.Type, p)
	})
}

// unknown reports a key the section does not have, with the known key it
// most resembles, or the section's keys when it has few.
func (k *checker) unknown(name, section string, known []string) {
	path := join(section, name)
	pos := k.col.keys[path]
	switch s := suggest.Closest(name, known); {
	case s != "":
		k.col.add(pos, path, "unknown key; did you mean `%s`?", s)
		// Validation would only add that the key meant is missing.
		k.col.refused[join(section, s)] = true
	case len(known) <= 8:
		k.col.add(pos, path, "unknown key; the keys here are %s", strings.Join(known, ", "))
	default:
		k.col.add(pos, path, "unknown key")
	}
}

// entries checks each key: value pair of the mapping n with check, and
// drops the pairs it refuses, keys that are not plain scalars and keys set
// twice. A merge key ("<<: *base") brings in the pairs of the mapping it
// names, checked the same way.
func (k *checker) entries(n *yaml.Node, path string, check func(name string, v *yaml.Node, p string) bool) bool {
	seen := map[string]int{}
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, v := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			if k.merge(v, path, check) {
				kept = append(kept, key, v)
			}
			continue
		}
		if key.Kind != yaml.ScalarNode {
			k.col.add(at(key), path, "a key must be a plain word, not %s", k.describe(key))
			continue
		}
		p := join(path, key.Value)
		if first, dup := seen[key.Value]; dup {
			k.col.add(at(key), p, "set twice (first on line %d); keep one", first)
			continue
		}
		seen[key.Value] = key.Line
		k.col.keys[p] = at(key)
		if check(key.Value, v, p) {
			kept = append(kept, key, v)
		}
	}
	n.Content = kept
	return true
}

// merge checks the value of a "<<" key: a mapping, an alias of one, or a
// list of those. yaml.v3 stops decoding altogether on anything else.
func (k *checker) merge(v *yaml.Node, path string, check func(string, *yaml.Node, string) bool) bool {
	switch v.Kind {
	case yaml.AliasNode:
		return k.alias(v, func(target *yaml.Node) bool { return k.merge(target, path, check) }, path)
	case yaml.MappingNode:
		return k.entries(v, path, check)
	case yaml.SequenceNode:
		ok := true
		for _, e := range v.Content {
			ok = k.merge(e, path, check) && ok
		}
		return ok
	}
	k.col.add(at(v), join(path, "<<"), "a merge needs a mapping or a list of mappings, not %s", k.describe(v))
	return false
}

// list checks each item of a sequence, dropping the ones it refuses.
func (k *checker) list(n *yaml.Node, item reflect.Type, path string) bool {
	kept := n.Content[:0]
	for i, e := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		// Recorded so that a problem found later (notify[0].url is
		// missing) points at its item, not at the list.
		k.col.keys[p] = at(e)
		if k.value(e, item, p) {
			kept = append(kept, e)
		}
	}
	n.Content = kept
	return true
}

// describe names what the user wrote, quoting a value unless it belongs
// to a secret.
func (k *checker) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		if k.secret > 0 {
			return "a single value"
		}
		s := n.Value
		if r := []rune(s); len(r) > 40 {
			s = string(r[:40]) + "…"
		}
		return strconv.Quote(s)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a section of keys"
	case yaml.AliasNode:
		return "the alias *" + n.Value
	}
	return "nothing"
}

// wanted says in the user's words what a value of type t is written as.
func wanted(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return "a duration such as 30s, 5m or 24h"
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list such as [a, b]"
	case reflect.Map:
		return "a section of `name: value` lines"
	case reflect.Struct:
		names, _ := fieldsOf(t)
		if len(names) > 4 {
			names = append(names[:4:4], "…")
		}
		return "a section of settings (" + strings.Join(names, ", ") + ")"
	}
	switch {
	case isFloat(t.Kind()):
		return "a number"
	case t.Kind() == reflect.Interface:
		return "a value"
	}
	return "a whole number"
}

// fieldsOf lists the keys of a section in declaration order, inline
// structs' keys included, with the fields they decode into.
func fieldsOf(t reflect.Type) ([]string, map[string]reflect.StructField) {
	var names []string
	fields := map[string]reflect.StructField{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, inline := yamlName(f)
			switch {
			case !f.IsExported() || name == "-":
			case inline:
				add(f.Type)
			default:
				names = append(names, name)
				fields[name] = f
			}
		}
	}
	add(t)
	return names, fields
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
