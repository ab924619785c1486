package crm

import "testing"

func TestSuspicious(t *testing.T) {
	for _, c := range []struct {
		kind string
		rule any
		want bool
	}{
		{"generic", "agentes", true},
		{"generic", "Ventas->", true},
		{"generic", "destination", false},
		{"hubspot", "properties.phone.value", false},
		{"hubspot", "agents", true},
		{"zoho", "Mobile", false},
		{"salesforce", "OwnerId", false},
		{"generic", map[string]any{"value": "agentes"}, false},
		{"generic", []any{"a", "b"}, false},
		{"pipedrive", "data.#(primary==true).value", false},
	} {
		if _, got := Suspicious(c.kind, c.rule); got != c.want {
			t.Errorf("Suspicious(%s, %v) = %v, want %v", c.kind, c.rule, got, c.want)
		}
	}
	for k := range constructors {
		if len(knownFields[k]) == 0 {
			t.Errorf("kind %s has no known fields", k)
		}
	}
}
