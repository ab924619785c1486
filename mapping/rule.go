package mapping

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Rule keys: the seven AgentCall parameters plus owner (routing) and id.
const (
	kCallerID = iota
	kAgent
	kPhone
	kTech
	kContext
	kOutQueue
	kDestination
	kOwner
	kID
	numKeys
)

// keyNames are the rule keys by index; the first seven match ucontact.Names.
var keyNames = [numKeys]string{"callerid", "agent", "phone", "tech", "context", "outqueue", "destination", "owner", "id"}

const allowedKeys = "callerid, agent, phone, tech, context, outqueue, destination, owner, id"

func keyIndex(name string) int {
	for i, n := range keyNames {
		if n == name {
			return i
		}
	}
	return -1
}

type ruleKind uint8

const (
	rulePath ruleKind = iota + 1
	ruleList
	ruleConst
	ruleTemplate
)

// metaVar is a $variable of a template, filled from the Event.
type metaVar uint8

const (
	metaNone metaVar = iota
	metaBodyHash
	metaRecordID
	metaObjectType
	metaSource
	metaKind
	metaDedupKey
	metaAction
)

var metaNames = map[string]metaVar{
	"$body_hash":   metaBodyHash,
	"$record_id":   metaRecordID,
	"$object_type": metaObjectType,
	"$source":      metaSource,
	"$kind":        metaKind,
	"$dedup_key":   metaDedupKey,
	"$action":      metaAction,
}

const knownMeta = "$body_hash, $record_id, $object_type, $source, $kind, $dedup_key, $action"

func (v metaVar) value(ev *Event) string {
	switch v {
	case metaBodyHash:
		return ev.BodyHash
	case metaRecordID:
		return ev.RecordID
	case metaObjectType:
		return ev.ObjectType
	case metaSource:
		return ev.Source
	case metaKind:
		return ev.Kind
	case metaDedupKey:
		return ev.DedupKey
	case metaAction:
		return ev.Action
	}
	return ""
}

// part is a piece of a template: literal text, a path, or a meta variable.
type part struct {
	lit  string
	path int // index into Mapper.paths; -1 when not a path
	meta metaVar
}

// rule is one compiled mapping rule.
type rule struct {
	kind  ruleKind
	paths []int    // rulePath, ruleList: indexes into Mapper.paths
	names []string // the paths as written, for messages
	froms []string // "path " + names[i], for decisions without allocating
	value string   // ruleConst
	vkind valKind  // ruleConst: vkFraction or vkNegative when YAML gave such a number
	parts []part   // ruleTemplate
	text  string   // ruleTemplate as written
}

// pathTable interns paths so each is looked up once per event even when
// several rules use it.
type pathTable struct {
	paths []string
	index map[string]int
}

func (t *pathTable) add(p string) int {
	if i, ok := t.index[p]; ok {
		return i
	}
	if t.index == nil {
		t.index = make(map[string]int)
	}
	t.paths = append(t.paths, p)
	t.index[p] = len(t.paths) - 1
	return len(t.paths) - 1
}

// compileRule turns one YAML-decoded rule into a rule. It returns an error
// describing the first problem of the rule.
func compileRule(raw any, t *pathTable) (*rule, error) {
	switch r := raw.(type) {
	case string:
		p := strings.TrimSpace(r)
		if err := checkPath(p); err != nil {
			return nil, err
		}
		return &rule{kind: rulePath, paths: []int{t.add(p)}, names: []string{p}, froms: []string{"path " + p}}, nil
	case []string:
		items := make([]any, len(r))
		for i, s := range r {
			items[i] = s
		}
		return compileList(items, t)
	case []any:
		return compileList(r, t)
	case map[string]any:
		return compileMap(r, t)
	case map[string]string:
		m := make(map[string]any, len(r))
		for k, v := range r {
			m[k] = v
		}
		return compileMap(m, t)
	case map[any]any:
		m := make(map[string]any, len(r))
		for k, v := range r {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("rule map keys must be strings, got %s", typeName(k))
			}
			m[ks] = v
		}
		return compileMap(m, t)
	}
	return nil, fmt.Errorf("got %s; want a path, a list of paths, {value: ...} or {template: ...}", typeName(raw))
}

func compileList(items []any, t *pathTable) (*rule, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("empty list: give at least one path")
	}
	names := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("list item %d is %s; want a path", i+1, typeName(it))
		}
		s = strings.TrimSpace(s)
		if err := checkPath(s); err != nil {
			return nil, fmt.Errorf("list item %d: %w", i+1, err)
		}
		names[i] = s
	}
	r := &rule{kind: ruleList, names: names, paths: make([]int, len(names)), froms: make([]string, len(names))}
	for i, n := range names {
		r.paths[i] = t.add(n)
		r.froms[i] = "path " + n
	}
	return r, nil
}

func compileMap(m map[string]any, t *pathTable) (*rule, error) {
	v, hasValue := m["value"]
	tpl, hasTemplate := m["template"]
	for k := range m {
		if k != "value" && k != "template" {
			return nil, fmt.Errorf("unknown rule key %q; want \"value\" or \"template\"", k)
		}
	}
	switch {
	case hasValue && hasTemplate:
		return nil, fmt.Errorf("use either \"value\" or \"template\", not both")
	case hasValue:
		s, err := scalar(v)
		if err != nil {
			return nil, err
		}
		return &rule{kind: ruleConst, value: s, vkind: scalarKind(v)}, nil
	case hasTemplate:
		s, ok := tpl.(string)
		if !ok {
			return nil, fmt.Errorf("template is %s; want a string", typeName(tpl))
		}
		parts, err := parseTemplate(s, t)
		if err != nil {
			return nil, err
		}
		return &rule{kind: ruleTemplate, parts: parts, text: s}, nil
	}
	return nil, fmt.Errorf("a rule map needs \"value\" or \"template\"")
}

// scalar stringifies a YAML constant: "Hot leads", 5000, 1.5 and true are
// all fine; lists and maps are not.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("value is %s; want a string, number or boolean", typeName(v))
}

// scalarKind tells a YAML number that cannot be a phone number: yaml.v3
// decodes 5.9899123456e10 and 59899123456.0 as float64.
func scalarKind(v any) valKind {
	switch x := v.(type) {
	case float64:
		return vkFraction
	case int:
		if x < 0 {
			return vkNegative
		}
	case int64:
		if x < 0 {
			return vkNegative
		}
	}
	return vkText
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "empty (null)"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any, map[any]any, map[string]string:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// parseTemplate splits "Lead {{ properties.firstname.value }} {{$record_id}}"
// into literal, path and meta parts.
func parseTemplate(s string, t *pathTable) ([]part, error) {
	var parts []part
	rest := s
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			parts = append(parts, part{lit: rest, path: -1})
			break
		}
		if i > 0 {
			parts = append(parts, part{lit: rest[:i], path: -1})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("template %q: unterminated \"{{\" at offset %d", s, len(s)-len(rest)+i)
		}
		name := strings.TrimSpace(rest[i+2 : i+2+j])
		rest = rest[i+2+j+2:]
		switch {
		case name == "":
			return nil, fmt.Errorf("template %q: empty placeholder {{}}", s)
		case name[0] == '$':
			mv, ok := metaNames[name]
			if !ok {
				return nil, fmt.Errorf("template %q: unknown variable %s (known: %s)", s, name, knownMeta)
			}
			parts = append(parts, part{meta: mv, path: -1})
		default:
			if err := checkPath(name); err != nil {
				return nil, fmt.Errorf("template %q: %w", s, err)
			}
			parts = append(parts, part{path: t.add(name)})
		}
	}
	return parts, nil
}

// checkPath rejects gjson paths that are certainly mistakes. gjson itself
// accepts any string and silently finds nothing, which would turn a typo in
// the configuration into "no value" on every event.
func checkPath(p string) (err error) {
	if p == "" {
		return fmt.Errorf("empty path")
	}
	if strings.TrimSpace(p) != p {
		return fmt.Errorf("path %q has leading or trailing spaces", p)
	}
	var stack []byte // expected closers
	start := true    // at the start of a component (depth 0)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if len(stack) > 0 && stack[len(stack)-1] == ')' && (c == '"' || c == '\'') {
			// Quoted value in a query: skip to the closing quote.
			j := i + 1
			for ; j < len(p) && p[j] != c; j++ {
				if p[j] == '\\' {
					j++
				}
			}
			if j >= len(p) {
				return fmt.Errorf("path %q: unterminated string in query", p)
			}
			i = j
			continue
		}
		switch c {
		case '\\':
			if i == len(p)-1 {
				return fmt.Errorf("path %q ends with a lone backslash", p)
			}
			i++
			start = false
			continue
		case '.', '|':
			if len(stack) == 0 {
				if start {
					return fmt.Errorf("path %q has an empty component (check the dots)", p)
				}
				if i == len(p)-1 {
					return fmt.Errorf("path %q ends with %q", p, c)
				}
				start = true
				continue
			}
		case '(':
			stack = append(stack, ')')
		case '[':
			stack = append(stack, ']')
		case '{':
			stack = append(stack, '}')
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return fmt.Errorf("path %q: unbalanced %q at offset %d", p, c, i)
			}
			stack = stack[:len(stack)-1]
		case '@':
			if start && len(stack) == 0 {
				name := p[i+1:]
				if k := strings.IndexAny(name, ".|:"); k >= 0 {
					name = name[:k]
				}
				if !gjson.ModifierExists(name, nil) {
					return fmt.Errorf("path %q: unknown modifier @%s", p, name)
				}
			}
		}
		start = false
	}
	if len(stack) > 0 {
		return fmt.Errorf("path %q: missing %q", p, stack[len(stack)-1])
	}
	// Last line of defence: the path must not make gjson misbehave.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("path %q is not a valid path", p)
		}
	}()
	gjson.Get(`{"a":[{"b":1}]}`, p)
	return nil
}

// resultString is the text of a gjson result: strings trimmed, numbers as
// written in the JSON (4051, not 4051.000000), objects and arrays as raw
// JSON, null and missing as "".
func resultString(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return strings.TrimSpace(r.Str)
	case gjson.Number, gjson.JSON:
		if r.Raw != "" {
			return strings.TrimSpace(r.Raw)
		}
		return r.String()
	case gjson.True:
		return "true"
	case gjson.False:
		return "false"
	}
	return ""
}
