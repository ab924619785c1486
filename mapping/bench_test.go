package mapping

import (
	"testing"

	"dialhook/internal/samples"
	"dialhook/ucontact"
)

// benchSpec is a realistic HubSpot workflow source: preset paths, a
// template, region UY and owner routing.
func benchSpec() Spec {
	return Spec{
		Source: "hubspot",
		Kind:   "hubspot",
		Preset: map[string]any{
			"destination": "properties.phone.value",
			"owner":       "properties.hubspot_owner_id.value",
			"id":          "properties.hs_object_id.value",
		},
		Rules: map[string]any{
			"destination": []any{"properties.mobilephone.value", "properties.phone.value"},
			"id":          map[string]any{"template": "{{$source}}-{{ properties.hs_object_id.value }}"},
			"outqueue":    map[string]any{"value": "Ventas->"},
		},
		Defaults:       ucontact.Params{Context: "from-internal", CallerID: "59829001234"},
		GlobalDefaults: ucontact.Params{Tech: "SIP"},
		Region:         "UY",
		Agents: Agents{
			Routes: map[string]Route{
				"71234567":        {Agent: "1001", Phone: "1001"},
				"ana@example.com": {Agent: "1002", Phone: "1002"},
			},
			Fallback: &Route{Agent: "1000", Phone: "1000"},
		},
	}
}

func benchEvent(b *testing.B) *Event {
	rec := samples.Body(samples.HubSpotWorkflowContact)
	return &Event{Source: "hubspot", Kind: "hubspot", Record: rec, ObjectType: "contact", RecordID: "4051"}
}

func BenchmarkMap(b *testing.B) {
	m, err := Compile(benchSpec())
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Map(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapWhen adds a `when` condition, which decodes the record.
func BenchmarkMapWhen(b *testing.B) {
	spec := benchSpec()
	spec.When = `properties.lifecyclestage.value == "lead" && record["portal-id"] == 62515`
	m, err := Compile(spec)
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		r, err := m.Map(ev)
		if err != nil || !r.Matched {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizePhone is the phone step alone, usually the largest part.
func BenchmarkNormalizePhone(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := NormalizePhone("099 123 456", "UY", PhoneOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
