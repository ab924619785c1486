package mapping

import (
	"fmt"
	"sort"
	"strings"

	"dialhook/internal/suggest"
	"dialhook/ucontact"
)

// addFunc records one Compile problem.
type addFunc func(key, format string, args ...any)

// Compile checks spec and prepares a Mapper. Every problem found is
// reported in one *CompileError.
func Compile(spec Spec) (*Mapper, error) {
	m := &Mapper{
		source:   spec.Source,
		defaults: spec.Defaults,
		global:   spec.GlobalDefaults,
		phone:    spec.Phone,
		phones:   &phoneCache{m: map[string]phoneAnswer{}},
		destOnly: spec.DestinationOnly,
	}
	ce := &CompileError{Source: spec.Source}
	add := func(key, format string, args ...any) {
		ce.Problems = append(ce.Problems, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	ruleKeys := m.compileRules(spec, add)
	m.compilePhone(spec, add)
	m.checkConstants(spec, ruleKeys, add)
	if src := strings.TrimSpace(spec.When); src != "" {
		c, err := compileWhen(src)
		if err != nil {
			add("when", "%v", err)
		}
		m.when = c
	}
	if src := strings.TrimSpace(spec.DNCOn); src != "" {
		c, err := compileWhen(src)
		if err != nil {
			add("dnc_on", "%v", err)
		}
		m.dncOn = c
	}
	m.compileRouting(spec.Agents, add)
	if len(ce.Problems) > 0 {
		return nil, ce
	}
	return m, nil
}

// compileRules merges the preset and the rules key by key and compiles
// them. It returns the configuration key each rule came from.
func (m *Mapper) compileRules(spec Spec, add addFunc) (ruleKeys [numKeys]string) {
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
			if near := suggest.Closest(k, keyNames[:]); near != "" {
				add(s.prefix+k, "unknown key; did you mean `%s`?", near)
			} else {
				add(s.prefix+k, "unknown key (allowed: %s)", allowedKeys)
			}
			continue
		}
		r, err := compileRule(s.raw, &table)
		if err != nil {
			add(s.prefix+k, "%v", err)
			continue
		}
		m.rules[i], ruleKeys[i] = r, s.prefix+k
	}
	m.paths = table.paths
	return ruleKeys
}

// compilePhone checks the phone settings and the region.
func (m *Mapper) compilePhone(spec Spec, add addFunc) {
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
	if p := m.phone.Prefix; len(p) > maxPrefix || strings.Trim(p, "0123456789") != "" {
		// The prefix goes in front of every dialed number: digits only, so
		// that a destination is always digits (and a '+' for e164).
		add("phone.prefix", "%s must be digits only, at most %d (e.g. \"9\")", quote(p), maxPrefix)
		m.phone.Prefix = ""
	}
	m.region = strings.ToUpper(strings.TrimSpace(spec.Region))
	if m.region != "" && !validRegion(m.region) {
		add("region", "%q is not a known region code (ISO 3166 alpha-2, e.g. \"UY\")", spec.Region)
		m.region = ""
	}
	if m.region == "" {
		m.region = m.phone.DefaultRegion
	}
}

// checkConstants holds the constants and defaults to what Map demands of a
// value from the record, so that a bad one stops start-up, naming its key,
// instead of failing every event.
func (m *Mapper) checkConstants(spec Spec, ruleKeys [numKeys]string, add addFunc) {
	for i := range kOwner {
		name := keyNames[i]
		if r := m.rules[i]; r != nil && r.kind == ruleConst && r.value != "" {
			if msg := m.constProblem(i, r.value, r.vkind); msg != "" {
				add(ruleKeys[i], "%s", msg)
			}
		}
		for _, d := range [...]struct {
			key string
			p   *ucontact.Params
		}{{"defaults.", &spec.Defaults}, {"global defaults.", &spec.GlobalDefaults}} {
			if v := d.p.Get(name); v != "" {
				if msg := m.constProblem(i, v, vkText); msg != "" {
					add(d.key+name, "%s", msg)
				}
			}
		}
	}
}

// constProblem says why the configured value v of parameter i cannot be
// sent, or "".
func (m *Mapper) constProblem(i int, v string, k valKind) string {
	if i == kDestination || i == kCallerID || i == kPhone {
		switch k {
		case vkFraction:
			return quote(v) + " was written as a number with a fraction or exponent; write the phone number in quotes"
		case vkNegative:
			return quote(v) + " was written as a negative number; write the phone number in quotes"
		}
	}
	switch i {
	case kDestination:
		n, _, err := NormalizePhone(v, m.region, m.phone)
		if err != nil {
			return err.Error()
		}
		v = n
	case kCallerID, kPhone:
		if msg := extensionProblem(v); msg != "" {
			return msg
		}
	}
	return textProblem(v, maxLen[i])
}

// compileRouting prepares the owner routes and checks their values.
func (m *Mapper) compileRouting(agents Agents, add addFunc) {
	owners := make([]string, 0, len(agents.Routes))
	for o := range agents.Routes {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	m.routes = make(map[string]Route, len(owners))
	m.folded = make(map[string]Route, len(owners))
	foldedFrom := make(map[string]string, len(owners))
	for _, o := range owners {
		r := agents.Routes[o]
		r.Agent, r.Phone = strings.TrimSpace(r.Agent), strings.TrimSpace(r.Phone)
		checkRoute("agents.routes."+o, r, add)
		m.routes[o] = r
		lo := strings.ToLower(o)
		if prev, dup := foldedFrom[lo]; dup {
			add("agents.routes."+o, "same owner as %q except for case; keep one", prev)
			continue
		}
		foldedFrom[lo] = o
		m.folded[lo] = r
	}
	if f := agents.Fallback; f != nil {
		r := Route{Agent: strings.TrimSpace(f.Agent), Phone: strings.TrimSpace(f.Phone)}
		checkRoute("agents.fallback", r, add)
		m.fallback = &r
	}
}

func checkRoute(key string, r Route, add addFunc) {
	if r.Agent == "" {
		add(key, "route has no agent")
	} else if msg := textProblem(r.Agent, maxLen[kAgent]); msg != "" {
		add(key+".agent", "%s", msg)
	}
	if r.Phone == "" {
		return
	}
	msg := extensionProblem(r.Phone)
	if msg == "" {
		msg = textProblem(r.Phone, maxLen[kPhone])
	}
	if msg != "" {
		add(key+".phone", "%s", msg)
	}
}
