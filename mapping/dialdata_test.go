package mapping

import (
	"net/url"
	"strings"
	"testing"
)

func TestDataTemplate(t *testing.T) {
	v := DataValues{Kind: "hubspot", ObjectType: "contact", RecordID: "42", Source: "crm", EventID: "e-1",
		Destination: "59899123456", Record: []byte(`{"email":"a&b@x.com","name":"Ana María","n":7}`)}
	for _, tc := range []struct{ tpl, want string }{
		{"crm={kind}&object={object_type}&id={record_id}", "crm=hubspot&object=contact&id=42"},
		{"{source}/{event_id}/{destination}", "crm/e-1/59899123456"},
		{"email={record.email}&name={record.name}&n={record.n}&none={record.missing}", "email=a%26b%40x.com&name=Ana+Mar%C3%ADa&n=7&none="},
		{`{{"id":"{record_id}"}}`, `{"id":"42"}`},
		{"plain", "plain"},
		{"", ""},
	} {
		tp, err := ParseData(tc.tpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tpl, err)
		}
		if got := tp.Render(v); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.tpl, got, tc.want)
		}
	}
	// A value cannot forge the placeholder FillDestination looks for.
	tp, _ := ParseData("id={record_id}&to={destination}")
	got := tp.Render(DataValues{RecordID: "{destination}"})
	if got = FillDestination(got, "598"); got != "id=%7Bdestination%7D&to=598" {
		t.Errorf("fill: %q", got)
	}
}

func TestQueryEscape(t *testing.T) {
	for _, s := range []string{"", "a b&c=d/e?f#g%h+i", "Ana María ~-_.", "{}\x00\xff"} {
		if got, want := queryEscape(s), url.QueryEscape(s); got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

func TestDataTemplateErrors(t *testing.T) {
	for tpl, want := range map[string]string{
		"id={id}":       "unknown placeholder {id}",
		"id={kind":      `unterminated "{"`,
		"a}b":           `a lone "}"`,
		"{record.a..b}": "empty component",
		"{}":            "unknown placeholder {}",
		"{record.}":     "empty path",
	} {
		if _, err := ParseData(tpl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", tpl, err, want)
		}
	}
}

func TestAlternatives(t *testing.T) {
	m, err := Compile(Spec{Source: "s", Kind: "generic", Rules: map[string]any{"destination": "phone"}, Region: "UY", DestinationOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ev := &Event{Record: []byte(`{"phone":"099 123 456","mobile":"099123457","others":["099123456","099 123 458","nope"]}`)}
	res, err := m.MapParams(ev)
	if err != nil || res.Params.Destination != "59899123456" || res.Params.Agent != "" {
		t.Fatalf("destination only: %+v, %v", res, err)
	}
	alt, warns := m.Alternatives(ev, []string{"mobile", "others", "missing"}, res.Params.Destination)
	if alt != "59899123457,59899123458" || len(warns) != 1 || !strings.Contains(warns[0], "nope") {
		t.Errorf("alternatives %q, warnings %v", alt, warns)
	}
}
