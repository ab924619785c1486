package mapping

import (
	"os"
	"testing"
)

// FuzzMapPath feeds arbitrary records and paths (used as a path, inside a
// template and in a when condition) through Compile and Map: nothing may
// panic, whatever the configuration or the CRM sends.
func FuzzMapPath(f *testing.F) {
	hubspot, err := os.ReadFile("testdata/hubspot-workflow-contact.json")
	if err != nil {
		f.Fatal(err)
	}
	pipedrive, err := os.ReadFile("testdata/pipedrive-v2-person.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(hubspot, "properties.phone.value")
	f.Add(pipedrive, "data.phones.#(primary==true).value")
	f.Add(pipedrive, `data.phones.#(label=="mo\"bile")#.value`)
	f.Add([]byte(`{"a":[1,2,{"b":"c"}]}`), "a.#.b|@reverse")
	f.Add([]byte(`{"a":`), "{a,b}")
	f.Add([]byte(`[1,2]`), "@this.0")
	f.Add([]byte(`{"k.dot":"v"}`), `k\.dot`)
	f.Add([]byte{0xff, '{', '"'}, "a.*.b?c")
	f.Fuzz(func(t *testing.T, record []byte, path string) {
		ev := &Event{Source: "s", Kind: "k", Record: record}
		specs := []Spec{
			{Rules: map[string]any{"destination": path, "owner": path}},
			{Rules: map[string]any{"context": map[string]any{"template": path}}},
			{Rules: map[string]any{"context": []any{"nope", path}}},
			{When: path},
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
		}
	})
}

// FuzzNormalizePhone checks that no input makes NormalizePhone panic and
// that a success gives digits (plus a leading '+' for e164).
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"099 123 456", "+1 (415) 555-0132", "+54 9 11 5123-4567", "0059899123456", "12", "", "+", "00", "tel:+598-99-123-456;ext=12", "1-800-FLOWERS", "(((("} {
		f.Add(s, "UY", "national")
		f.Add(s, "", "e164")
	}
	f.Fuzz(func(t *testing.T, raw, region, format string) {
		n, _, err := NormalizePhone(raw, region, PhoneOptions{Format: format})
		if err != nil {
			return
		}
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
	})
}
