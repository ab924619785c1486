package mapping

import (
	"fmt"
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
	DNCOn          string          // optional: true puts the record's destination on the do-not-call list
	Agents         Agents
	Phone          PhoneOptions
	// DestinationOnly: the source hands its leads to uContact's dialer
	// (dial.mode dialer_task), which needs only the customer's number; the
	// other AgentCall parameters are mapped when they can be, never required.
	DestinationOnly bool
}

// Result is the outcome of mapping one event.
type Result struct {
	Params    ucontact.Params
	ID        string   // value of the id rule ("" when none or empty)
	Owner     string   // value of the owner rule
	Matched   bool     // false when `when` was false: record "ignored", do not dial
	Warnings  []string // e.g. a number that is possible but not valid (with phone.allow_invalid)
	Decisions []string // which path, constant, template, route or default gave each value
	// DoNotCall: the source's dnc_on condition is true for this record: its
	// destination goes on the do-not-call list (and the event is not dialed).
	DoNotCall bool
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
	dncOn    *condition
	routes   map[string]Route
	folded   map[string]Route // routes by lower-cased owner, for emails
	fallback *Route
	phones   *phoneCache // NormalizePhone answers; nil: none kept
	destOnly bool        // Spec.DestinationOnly
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

// mapState is what one mapEvent call builds up.
type mapState struct {
	res    *Result
	trail  bool
	failed map[string]string
}

func (st *mapState) fail(field, msg string) {
	if st.failed == nil {
		st.failed = make(map[string]string, 2)
	}
	st.failed[field] = msg
}

func (m *Mapper) mapEvent(ev *Event, trail bool) (*Result, error) {
	res := &Result{Matched: true}
	if trail {
		res.Decisions = make([]string, 0, 12)
	}
	if m.when != nil {
		if stop, err := m.matchWhen(ev, res, trail); stop {
			return res, err
		}
	}

	// Look every path up once.
	var vbuf [maxStackPaths]string
	var kbuf [maxStackPaths]valKind
	vals, kinds := vbuf[:0], kbuf[:0]
	if len(m.paths) > maxStackPaths {
		vals, kinds = make([]string, 0, len(m.paths)), make([]valKind, 0, len(m.paths))
	}
	if len(m.paths) > 0 {
		rec := string(ev.Record) // results must not alias the caller's buffer
		for _, p := range m.paths {
			r := gjson.Get(rec, p)
			vals = append(vals, resultString(r))
			kinds = append(kinds, kindOf(r))
		}
	}

	var got [numKeys]string
	var how [numKeys]string // "path x", "constant", "template", for decisions
	var kind [numKeys]valKind
	for i, r := range m.rules {
		if r != nil {
			got[i], how[i], kind[i] = r.eval(ev, vals, kinds)
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

	st := &mapState{res: res, trail: trail}
	var route *Route
	var routed Route
	routeHow := ""
	// Routing: only when the rules named neither the agent nor the phone.
	if got[kAgent] == "" && got[kPhone] == "" && got[kOwner] != "" {
		var ok bool
		if routed, routeHow, ok = m.route(st, got[kOwner]); ok {
			route = &routed
		}
	}
	for i := range kOwner {
		m.setParam(st, i, got[i], how[i], kind[i], route, routeHow)
	}
	if st.failed != nil {
		return res, &Error{Fields: st.failed}
	}
	m.matchDNC(ev, res, trail)
	return res, nil
}

// matchDNC evaluates dnc_on (an error reads as false: the lead is not
// added, and the trail says why).
func (m *Mapper) matchDNC(ev *Event, res *Result, trail bool) {
	if m.dncOn == nil {
		return
	}
	ok, err := m.dncOn.eval(ev)
	res.DoNotCall = err == nil && ok
	switch {
	case !trail:
	case err != nil:
		res.Decisions = append(res.Decisions, "dnc_on: error: "+err.Error())
	case ok:
		res.Decisions = append(res.Decisions, "dnc_on: true ("+m.dncOn.src+"): "+res.Params.Destination+" goes on the do-not-call list; the event is blocked")
	default:
		res.Decisions = append(res.Decisions, "dnc_on: false ("+m.dncOn.src+")")
	}
}

// matchWhen evaluates the when condition; stop is true when mapping ends
// here (false condition or evaluation error).
func (m *Mapper) matchWhen(ev *Event, res *Result, trail bool) (stop bool, err error) {
	ok, err := m.when.eval(ev)
	if err != nil {
		res.Matched = false
		if trail {
			res.Decisions = append(res.Decisions, "when: error: "+err.Error())
		}
		return true, &Error{Fields: map[string]string{"when": err.Error()}}
	}
	if !ok {
		res.Matched = false
		if trail {
			res.Decisions = append(res.Decisions, "when: false, event ignored ("+m.when.src+")")
		}
		return true, nil
	}
	if trail {
		res.Decisions = append(res.Decisions, "when: true ("+m.when.src+")")
	}
	return false, nil
}

// route picks the route for owner and says which (with the trail), or
// fails the agent. The owner comes from the record: messages quote it.
func (m *Mapper) route(st *mapState, owner string) (r Route, how string, ok bool) {
	if r, ok := m.routes[owner]; ok {
		if st.trail {
			how = around("route for owner ", owner, "")
		}
		return r, how, true
	}
	if r, ok := m.folded[strings.ToLower(owner)]; ok {
		if st.trail {
			how = around("route for owner ", owner, " (case-insensitive)")
		}
		return r, how, true
	}
	if m.fallback != nil {
		if st.trail {
			how = around("fallback route (owner ", owner, " has no route)")
		}
		return *m.fallback, how, true
	}
	msg := around("owner ", owner, " has no route and there is no fallback")
	st.fail("agent", msg)
	if st.trail {
		st.res.Decisions = append(st.res.Decisions, "agent: "+msg)
	}
	return Route{}, "", false
}

// setParam completes parameter i, whose rule gave v, from the route (agent
// and phone) or the defaults when v is empty, checks the value and sets it,
// or records why it cannot.
func (m *Mapper) setParam(st *mapState, i int, v, from string, k valKind, route *Route, routeHow string) {
	name := keyNames[i]
	r := m.rules[i]
	fromRecord := v != "" && r != nil && r.kind != ruleConst
	ruleEmpty := v == "" && r != nil
	if v == "" {
		k = vkText // whatever comes next is configuration text
	}
	if v == "" && route != nil && (i == kAgent || i == kPhone) {
		v = route.Agent
		if i == kPhone {
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
	if v == "" && m.destOnly && i != kDestination {
		return // the dialer does not need it
	}
	if v == "" {
		if _, done := st.failed[name]; !done {
			st.fail(name, m.missing(i))
		}
		return
	}
	if st.trail {
		if ruleEmpty {
			from += " (" + m.missing(i) + ")"
		}
		st.res.Decisions = append(st.res.Decisions, describe(name, v, from))
	}
	out, msg := v, ""
	switch {
	case i == kDestination || (i == kCallerID && fromRecord):
		out, msg = m.phoneParam(st, name, v, k)
	case i == kCallerID || i == kPhone:
		// An extension or a fixed caller id: sent as written, so only its
		// characters are checked.
		if msg = phoneKindProblem(k, v); msg == "" {
			msg = extensionProblem(v)
		}
	}
	if msg == "" {
		msg = textProblem(out, maxLen[i])
	}
	if msg != "" {
		st.fail(name, msg)
		return
	}
	st.res.Params.Set(name, out)
}

// Phone normalizes a customer number read from the record as the
// destination is (the source's region and the phone options): for
// dial.alternatives.
func (m *Mapper) Phone(raw string) (string, error) {
	n, _, err := m.normalizePhone(raw)
	return n, err
}

// phoneParam normalizes a customer number (destination, or a caller id read
// from the record).
func (m *Mapper) phoneParam(st *mapState, name, v string, k valKind) (number, problem string) {
	if msg := phoneKindProblem(k, v); msg != "" {
		return "", msg
	}
	n, warn, err := m.normalizePhone(v)
	if err != nil {
		return "", err.Error()
	}
	if warn != "" {
		st.res.Warnings = append(st.res.Warnings, name+": "+warn)
	}
	if st.trail {
		st.res.Decisions = append(st.res.Decisions, name+": "+m.phoneNote(v, n, warn))
	}
	return n, ""
}

func describe(name, value, from string) string {
	if !plain(value) {
		return name + " = " + quote(value) + " from " + from
	}
	return name + ` = "` + value + `" from ` + from
}

// around is before + v in double quotes + after, v quoted and cut as quote
// does unless it is plain.
func around(before, v, after string) string {
	if !plain(v) {
		return before + quote(v) + after
	}
	return before + `"` + v + `"` + after
}

// plain reports whether v reads the same between double quotes as quoted by
// quote: short, without control characters, quotes or backslashes. Values
// that are not (control characters, a document) reach no message or
// decision as they are.
func plain(v string) bool {
	return textProblem(v, quoteMax) == "" && !strings.ContainsAny(v, `"\`)
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

// eval computes the rule's value for one event, says where it came from
// and what kind of value it was (see valKind). A template has the kind of
// its first placeholder that cannot be a phone number, else vkText.
func (r *rule) eval(ev *Event, vals []string, kinds []valKind) (value, from string, kind valKind) {
	switch r.kind {
	case rulePath:
		return vals[r.paths[0]], r.froms[0], kinds[r.paths[0]]
	case ruleList:
		for i, p := range r.paths {
			if vals[p] != "" {
				return vals[p], r.froms[i], kinds[p]
			}
		}
		return "", r.froms[0], vkText
	case ruleConst:
		return r.value, "constant", r.vkind
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
				if k := kinds[p.path]; kind == vkText && k != vkWhole {
					kind = k
				}
			case p.meta != metaNone:
				b.WriteString(p.meta.value(ev))
			default:
				b.WriteString(p.lit)
			}
		}
		return strings.TrimSpace(b.String()), "template", kind
	}
	return "", "", vkText
}
