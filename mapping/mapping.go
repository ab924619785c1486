package mapping

import (
	"fmt"
	"sort"
	"strings"

	"dialhook/ucontact"

	"github.com/tidwall/gjson"
)

// Route is where calls for one CRM owner go: the uContact agent and the
// agent's phone (extension).
type Route struct {
	Agent string `yaml:"agent" json:"agent"`
	Phone string `yaml:"phone" json:"phone"`
}

// Agents maps CRM owner ids (or emails) to routes.
type Agents struct {
	Routes   map[string]Route `yaml:"routes"`
	Fallback *Route           `yaml:"fallback"`
}

// Spec is everything Compile needs for one source.
type Spec struct {
	Source string // source name, for error messages
	Kind   string
	// Preset holds the kind's rules; Rules override them key by key. A nil
	// rule in Rules (YAML "~" or "null") removes the preset's rule.
	Preset map[string]any
	// Rules is sources.NAME.mapping as yaml.v3 decodes it into any: a path
	// string, a list of paths, {value: x} or {template: "..."}.
	Rules          map[string]any
	Defaults       ucontact.Params // sources.NAME.defaults
	GlobalDefaults ucontact.Params // global defaults
	Region         string          // sources.NAME.region (ISO 3166 alpha-2), else Phone.DefaultRegion
	When           string          // optional boolean expr-lang expression
	Agents         Agents
	Phone          PhoneOptions
}

// Result is the outcome of mapping one event.
type Result struct {
	Params    ucontact.Params
	ID        string   // value of the id rule ("" when none or empty)
	Owner     string   // value of the owner rule
	Matched   bool     // false when `when` was false: record "ignored", do not dial
	Warnings  []string // e.g. a number that is possible but not valid
	Decisions []string // which path, constant, template, route or default gave each value
}

// Mapper turns events of one source into AgentCall parameters. It is
// immutable after Compile and safe for concurrent use (its only mutable
// part is a bounded cache of normalized phone numbers, see phoneCache).
type Mapper struct {
	source   string
	rules    [numKeys]*rule
	paths    []string
	defaults ucontact.Params
	global   ucontact.Params
	region   string
	phone    PhoneOptions
	when     *condition
	routes   map[string]Route
	folded   map[string]Route // routes by lower-cased owner, for emails
	fallback *Route
	phones   *phoneCache // NormalizePhone answers; nil: none kept
}

// Compile checks spec and prepares a Mapper. Every problem found is
// reported in one *CompileError.
func Compile(spec Spec) (*Mapper, error) {
	m := &Mapper{
		source:   spec.Source,
		defaults: spec.Defaults,
		global:   spec.GlobalDefaults,
		phone:    spec.Phone,
		phones:   &phoneCache{m: map[string]phoneAnswer{}},
	}
	ce := &CompileError{Source: spec.Source}
	add := func(key, format string, args ...any) {
		ce.Problems = append(ce.Problems, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
	}

	// Rules: the preset, overridden key by key.
	type src struct {
		raw    any
		prefix string
	}
	merged := make(map[string]src, len(spec.Preset)+len(spec.Rules))
	for k, v := range spec.Preset {
		merged[k] = src{v, "preset."}
	}
	for k, v := range spec.Rules {
		if v == nil {
			delete(merged, k)
			continue
		}
		merged[k] = src{v, "mapping."}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var table pathTable
	for _, k := range keys {
		s := merged[k]
		i := keyIndex(k)
		if i < 0 {
			add(s.prefix+k, "unknown key (allowed: %s)", allowedKeys)
			continue
		}
		r, err := compileRule(s.raw, &table)
		if err != nil {
			add(s.prefix+k, "%v", err)
			continue
		}
		m.rules[i] = r
	}
	m.paths = table.paths

	// Phones.
	m.phone.Format = strings.ToLower(strings.TrimSpace(m.phone.Format))
	if !validFormat(m.phone.Format) {
		add("phone.format", "unknown format %q (want e164, digits or national)", spec.Phone.Format)
		m.phone.Format = ""
	}
	m.phone.DefaultRegion = strings.ToUpper(strings.TrimSpace(m.phone.DefaultRegion))
	if r := m.phone.DefaultRegion; r != "" && !validRegion(r) {
		add("phone.default_region", "%q is not a known region code (ISO 3166 alpha-2, e.g. \"UY\")", spec.Phone.DefaultRegion)
		m.phone.DefaultRegion = ""
	}
	m.region = strings.ToUpper(strings.TrimSpace(spec.Region))
	if m.region != "" && !validRegion(m.region) {
		add("region", "%q is not a known region code (ISO 3166 alpha-2, e.g. \"UY\")", spec.Region)
		m.region = ""
	}
	if m.region == "" {
		m.region = m.phone.DefaultRegion
	}
	phoneChecks := []struct{ key, value string }{
		{"defaults.destination", spec.Defaults.Destination},
		{"global defaults.destination", spec.GlobalDefaults.Destination},
	}
	if r := m.rules[kDestination]; r != nil && r.kind == ruleConst {
		phoneChecks = append(phoneChecks, struct{ key, value string }{"mapping.destination", r.value})
	}
	for _, c := range phoneChecks {
		if c.value == "" {
			continue
		}
		if _, _, err := NormalizePhone(c.value, m.region, m.phone); err != nil {
			add(c.key, "%v", err)
		}
	}

	// when.
	if src := strings.TrimSpace(spec.When); src != "" {
		c, err := compileWhen(src)
		if err != nil {
			add("when", "%v", err)
		}
		m.when = c
	}

	// Routing.
	owners := make([]string, 0, len(spec.Agents.Routes))
	for o := range spec.Agents.Routes {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	m.routes = make(map[string]Route, len(owners))
	m.folded = make(map[string]Route, len(owners))
	foldedFrom := make(map[string]string, len(owners))
	for _, o := range owners {
		r := spec.Agents.Routes[o]
		r.Agent, r.Phone = strings.TrimSpace(r.Agent), strings.TrimSpace(r.Phone)
		if r.Agent == "" {
			add("agents.routes."+o, "route has no agent")
		}
		m.routes[o] = r
		lo := strings.ToLower(o)
		if prev, dup := foldedFrom[lo]; dup {
			add("agents.routes."+o, "same owner as %q except for case; keep one", prev)
			continue
		}
		foldedFrom[lo] = o
		m.folded[lo] = r
	}
	if f := spec.Agents.Fallback; f != nil {
		r := Route{Agent: strings.TrimSpace(f.Agent), Phone: strings.TrimSpace(f.Phone)}
		if r.Agent == "" {
			add("agents.fallback", "route has no agent")
		}
		m.fallback = &r
	}

	if len(ce.Problems) > 0 {
		return nil, ce
	}
	return m, nil
}

// maxStackPaths is how many distinct paths Map looks up without allocating.
const maxStackPaths = 16

// Map turns ev into AgentCall parameters. When `when` is false it returns a
// Result with Matched false and a nil error. On a mapping failure it returns
// an *Error listing every field at fault, together with the partial Result,
// whose Decisions explain how far mapping got.
func (m *Mapper) Map(ev *Event) (*Result, error) { return m.mapEvent(ev, true) }

// MapParams is Map without the Decisions trail (Result.Decisions is nil):
// the same parameters, ID, Owner, Matched, Warnings and errors, for callers
// that do not show the trail (the webhook path) and should not pay for it.
func (m *Mapper) MapParams(ev *Event) (*Result, error) { return m.mapEvent(ev, false) }

func (m *Mapper) mapEvent(ev *Event, trail bool) (*Result, error) {
	res := &Result{Matched: true}
	if trail {
		res.Decisions = make([]string, 0, 12)
	}
	if m.when != nil {
		ok, err := m.when.eval(ev)
		if err != nil {
			res.Matched = false
			if trail {
				res.Decisions = append(res.Decisions, "when: error: "+err.Error())
			}
			return res, &Error{Fields: map[string]string{"when": err.Error()}}
		}
		if !ok {
			res.Matched = false
			if trail {
				res.Decisions = append(res.Decisions, "when: false, event ignored ("+m.when.src+")")
			}
			return res, nil
		}
		if trail {
			res.Decisions = append(res.Decisions, "when: true ("+m.when.src+")")
		}
	}

	// Look every path up once.
	var buf [maxStackPaths]string
	vals := buf[:0]
	if len(m.paths) > maxStackPaths {
		vals = make([]string, 0, len(m.paths))
	}
	if len(m.paths) > 0 {
		rec := string(ev.Record) // results must not alias the caller's buffer
		for _, p := range m.paths {
			vals = append(vals, resultString(gjson.Get(rec, p)))
		}
	}

	var got [numKeys]string
	var how [numKeys]string // "path x", "constant", "template", for decisions
	for i, r := range m.rules {
		if r != nil {
			got[i], how[i] = r.eval(ev, vals)
		}
	}
	res.ID, res.Owner = got[kID], got[kOwner]
	for _, i := range [...]int{kID, kOwner} {
		switch {
		case !trail:
		case got[i] != "":
			res.Decisions = append(res.Decisions, describe(keyNames[i], got[i], how[i]))
		case m.rules[i] != nil:
			res.Decisions = append(res.Decisions, keyNames[i]+": "+m.missing(i))
		}
	}

	var failed map[string]string
	fail := func(field, msg string) {
		if failed == nil {
			failed = make(map[string]string, 2)
		}
		failed[field] = msg
	}

	// Routing: only when the rules named neither the agent nor the phone.
	var route *Route
	routeHow := ""
	if got[kAgent] == "" && got[kPhone] == "" && got[kOwner] != "" {
		owner := got[kOwner]
		if r, ok := m.routes[owner]; ok {
			route = &r
			if trail {
				routeHow = `route for owner "` + owner + `"`
			}
		} else if r, ok := m.folded[strings.ToLower(owner)]; ok {
			route = &r
			if trail {
				routeHow = `route for owner "` + owner + `" (case-insensitive)`
			}
		} else if m.fallback != nil {
			route = m.fallback
			if trail {
				routeHow = `fallback route (owner "` + owner + `" has no route)`
			}
		} else {
			fail("agent", `owner "`+owner+`" has no route and there is no fallback`)
			if trail {
				res.Decisions = append(res.Decisions, `agent: owner "`+owner+`" has no route and there is no fallback`)
			}
		}
	}

	for i := range kOwner {
		name := keyNames[i]
		v, from := got[i], how[i]
		fromRecord := v != "" && m.rules[i] != nil && m.rules[i].kind != ruleConst
		ruleEmpty := v == "" && m.rules[i] != nil
		if v == "" && route != nil && (i == kAgent || i == kPhone) {
			if i == kAgent {
				v = route.Agent
			} else {
				v = route.Phone
			}
			if v != "" {
				from = routeHow
			}
		}
		if v == "" && m.defaults.Get(name) != "" {
			v, from = m.defaults.Get(name), "source default"
		}
		if v == "" && m.global.Get(name) != "" {
			v, from = m.global.Get(name), "global default"
		}
		if v == "" && i == kTech {
			v, from = "SIP", "built-in default (AgentCall requires SIP)"
		}
		if v == "" {
			if _, done := failed[name]; !done {
				fail(name, m.missing(i))
			}
			continue
		}
		if trail {
			if ruleEmpty {
				from += " (" + m.missing(i) + ")"
			}
			res.Decisions = append(res.Decisions, describe(name, v, from))
		}
		if i == kDestination || (i == kCallerID && fromRecord) {
			n, warn, err := m.normalizePhone(v)
			if err != nil {
				fail(name, err.Error())
				continue
			}
			if warn != "" {
				res.Warnings = append(res.Warnings, name+": "+warn)
			}
			if trail {
				res.Decisions = append(res.Decisions, name+": "+m.phoneNote(v, n, warn))
			}
			v = n
		}
		res.Params.Set(name, v)
	}
	if failed != nil {
		return res, &Error{Fields: failed}
	}
	return res, nil
}

func describe(name, value, from string) string {
	return name + ` = "` + value + `" from ` + from
}

func (m *Mapper) phoneNote(raw, out, warn string) string {
	region := m.region
	if region == "" {
		region = "none, read as international"
	}
	valid := "valid"
	if warn != "" {
		valid = "possible but not valid"
	}
	format := m.phone.Format
	if format == "" {
		format = FormatDigits
	}
	return `"` + raw + `" (region ` + region + `) is ` + valid + `; dialing "` + out + `" (` + format + `)`
}

// missing explains why parameter i has no value.
func (m *Mapper) missing(i int) string {
	r := m.rules[i]
	if r == nil {
		return "no value (no mapping rule, no default)"
	}
	switch r.kind {
	case rulePath, ruleList:
		return "no value at " + strings.Join(r.names, ", ")
	case ruleTemplate:
		return fmt.Sprintf("template %q gave no value", r.text)
	}
	return "no value (the constant is empty and there is no default)"
}

// eval computes the rule's value for one event and says where it came from.
func (r *rule) eval(ev *Event, vals []string) (value, from string) {
	switch r.kind {
	case rulePath:
		return vals[r.paths[0]], r.froms[0]
	case ruleList:
		for i, p := range r.paths {
			if vals[p] != "" {
				return vals[p], r.froms[i]
			}
		}
		return "", r.froms[0]
	case ruleConst:
		return r.value, "constant"
	case ruleTemplate:
		var b strings.Builder
		n := 0
		for _, p := range r.parts {
			n += len(p.lit) + 16
		}
		b.Grow(n)
		for _, p := range r.parts {
			switch {
			case p.path >= 0:
				b.WriteString(vals[p.path])
			case p.meta != metaNone:
				b.WriteString(p.meta.value(ev))
			default:
				b.WriteString(p.lit)
			}
		}
		return strings.TrimSpace(b.String()), "template"
	}
	return "", ""
}
