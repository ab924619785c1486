package mapping

import (
	"strings"
	"testing"
	"unicode/utf8"

	"dialhook/internal/samples"
	"dialhook/ucontact"
)

// FuzzMapPath feeds arbitrary records and paths (used as a path, inside a
// template and in a when condition) through Compile and Map: nothing may
// panic, whatever the configuration or the CRM sends, no mapped parameter
// may break the invariants of checkParams, and MapParams must agree.
func FuzzMapPath(f *testing.F) {
	hubspot := samples.Body(samples.HubSpotWorkflowContact)
	pipedrive := samples.Body(samples.PipedriveV2Person)
	f.Add(hubspot, "properties.phone.value")
	f.Add(pipedrive, "data.phones.#(primary==true).value")
	f.Add(pipedrive, `data.phones.#(label=="mo\"bile")#.value`)
	f.Add([]byte(`{"a":[1,2,{"b":"c"}]}`), "a.#.b|@reverse")
	f.Add([]byte(`{"a":`), "{a,b}")
	f.Add([]byte(`[1,2]`), "@this.0")
	f.Add([]byte(`{"k.dot":"v"}`), `k\.dot`)
	f.Add([]byte{0xff, '{', '"'}, "a.*.b?c")
	f.Add([]byte(`{"v":59899123456.0}`), "v")
	f.Add([]byte(`{"v":"\u202e654321990"}`), "v")
	f.Add([]byte(`{"v":"099-CALL-NOW"}`), "v")
	f.Add([]byte("{\"v\":\"a\r\nb\x00\xff\"}"), "v")
	f.Add([]byte(`{"v":"`+strings.Repeat("x", 600)+`"}`), "v")
	f.Fuzz(func(t *testing.T, record []byte, path string) {
		ev := &Event{Source: "s", Kind: "k", Record: record}
		every := map[string]any{}
		for _, n := range ucontact.Names {
			every[n] = path
		}
		specs := []Spec{
			{Rules: map[string]any{"destination": path, "owner": path}},
			{Rules: map[string]any{"context": map[string]any{"template": path}}},
			{Rules: map[string]any{"context": []any{"nope", path}}},
			{When: path},
			// Every parameter from the record, read as a phone where it is one.
			{Rules: every, Region: "UY", Phone: PhoneOptions{AllowLetters: true, AllowInvalid: true}},
			{Rules: map[string]any{"callerid": map[string]any{"template": "{{" + path + "}}"}, "destination": []any{"nope", path}}, Phone: PhoneOptions{Format: FormatE164}},
		}
		for _, spec := range specs {
			spec.Source = "fuzz"
			spec.Defaults = full
			spec.Agents.Fallback = &Route{Agent: "1"}
			m, err := Compile(spec)
			if err != nil {
				continue
			}
			r, err := m.Map(ev)
			if r == nil {
				t.Fatalf("nil result (err %v)", err)
			}
			checkParams(t, r.Params)
			p, perr := m.MapParams(ev)
			if p.Params != r.Params || (perr == nil) != (err == nil) || (err != nil && perr.Error() != err.Error()) {
				t.Fatalf("MapParams = %+v, %v; Map = %+v, %v", p.Params, perr, r.Params, err)
			}
		}
	})
}

// checkParams asserts what every mapped parameter must be, whatever the
// record held: valid UTF-8, no control or formatting character, within its
// bound; a destination all digits (a leading '+' for e164); an agent's
// phone and a caller id digits, a leading '+' and separators only.
func checkParams(t *testing.T, p ucontact.Params) {
	t.Helper()
	for _, n := range ucontact.Names {
		v := p.Get(n)
		if !utf8.ValidString(v) {
			t.Fatalf("%s = %q: not valid UTF-8", n, v)
		}
		if i := strings.IndexFunc(v, forbidden); i >= 0 {
			t.Fatalf("%s = %q: control or formatting character at byte %d", n, v, i)
		}
		if c := utf8.RuneCountInString(v); c > MaxLen[n] {
			t.Fatalf("%s = %q: %d characters, more than %d", n, v, c, MaxLen[n])
		}
	}
	if d := strings.TrimPrefix(p.Destination, "+"); p.Destination != "" && strings.Trim(d, "0123456789") != "" {
		t.Fatalf("destination = %q: not digits", p.Destination)
	}
	for _, v := range []string{p.Phone, p.CallerID} {
		if s := strings.TrimPrefix(v, "+"); strings.Trim(s, "0123456789"+phoneSeparators) != "" {
			t.Fatalf("phone or callerid %q: not digits and separators", v)
		}
	}
}

// FuzzNormalizePhone checks that no input makes NormalizePhone panic, that
// a success gives digits (plus a leading '+' for e164) within the bound,
// read from whitelisted characters only, and warns only with allow_invalid.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"099 123 456", "+1 (415) 555-0132", "+54 9 11 5123-4567", "0059899123456", "12", "", "+", "00", "tel:+598-99-123-456;ext=12", "1-800-FLOWERS", "(((("} {
		f.Add(s, "UY", "national")
		f.Add(s, "", "e164")
	}
	f.Add("1-800-FLOWERS", "US", "digits")
	f.Add("\u202e654321990", "UY", "digits")
	f.Add("59899123456.0", "UY", "digits")
	f.Fuzz(func(t *testing.T, raw, region, format string) {
		for _, opts := range []PhoneOptions{{Format: format}, {Format: format, AllowLetters: true, AllowInvalid: true}} {
			n, warn, err := NormalizePhone(raw, region, opts)
			if err != nil {
				continue
			}
			checkNumber(t, raw, region, format, n)
			if warn != "" && !opts.AllowInvalid {
				t.Fatalf("NormalizePhone(%q, %q, %q): warning %q without allow_invalid", raw, region, format, warn)
			}
			// Only whitelisted characters get through.
			for i, r := range strings.TrimSpace(raw) {
				if !(r >= '0' && r <= '9' || r == '+' && i == 0 || strings.ContainsRune(phoneSeparators, r) || opts.AllowLetters && isLetter(r)) {
					t.Fatalf("NormalizePhone(%q, %q, %+v) = %q: accepted %q", raw, region, opts, n, r)
				}
			}
		}
	})
}

// checkNumber asserts that n, a number NormalizePhone gave, is digits (with
// a leading '+' for e164) within the destination's bound.
func checkNumber(t *testing.T, raw, region, format, n string) {
	t.Helper()
	s := n
	if format == "e164" || format == "E164" {
		if s == "" || s[0] != '+' {
			t.Fatalf("e164 %q", n)
		}
		s = s[1:]
	}
	if s == "" {
		t.Fatalf("empty number for %q", raw)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			t.Fatalf("NormalizePhone(%q, %q, %q) = %q: not digits", raw, region, format, n)
		}
	}
	if len(n) > MaxLen["destination"] {
		t.Fatalf("NormalizePhone(%q, %q, %q) = %q: longer than %d", raw, region, format, n, MaxLen["destination"])
	}
}
