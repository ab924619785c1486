package mapping

import (
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"dialhook/internal/samples"
	"dialhook/ucontact"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// full gives every parameter a source default so that a test can look at
// one parameter without the others failing.
var full = ucontact.Params{
	CallerID: "100", Agent: "agent-default", Phone: "1999", Tech: "SIP",
	Context: "ctx-default", OutQueue: "queue-default", Destination: "+59899000000",
}

func mustCompile(t testing.TB, spec Spec) *Mapper {
	t.Helper()
	m, err := Compile(spec)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

func hubspotEvent(t testing.TB) *Event {
	return &Event{
		Source: "hubspot", Kind: "hubspot", Record: samples.Body(samples.HubSpotWorkflowContact),
		ObjectType: "contact", RecordID: "4051", Action: "change", BodyHash: "abc123", DedupKey: "dk-1",
	}
}

func TestRuleForms(t *testing.T) {
	rec := `{"s":"  text  ","n":4051,"f":1.50,"neg":-7e2,"t":true,"no":false,"nul":null,"empty":"",
		"obj":{"a":1},"arr":[1,2],"mobilephone":null,"telephone1":"  ","fax":"555",
		"data":{"phones":[{"value":"1","primary":false},{"value":"2","primary":true}]},
		"properties":{"firstname":{"value":"Bruno"},"lastname":{"value":"Silva"}},
		"k.dot":"escaped"}`
	tests := []struct {
		name string
		rule any
		want string // the value of context
	}{
		{"path string trimmed", "s", "text"},
		{"path with spaces around", "  s ", "text"},
		{"integer keeps literal", "n", "4051"},
		{"float keeps literal", "f", "1.50"},
		{"exponent keeps literal", "neg", "-7e2"},
		{"true", "t", "true"},
		{"false is a value", "no", "false"},
		{"null falls to default", "nul", "ctx-default"},
		{"empty string falls to default", "empty", "ctx-default"},
		{"missing falls to default", "nothing.here", "ctx-default"},
		{"object as raw JSON", "obj", `{"a":1}`},
		{"array as raw JSON", "arr", `[1,2]`},
		{"gjson query", "data.phones.#(primary==true).value", "2"},
		{"escaped dot", `k\.dot`, "escaped"},
		{"list first non-empty", []any{"mobilephone", "telephone1", "fax"}, "555"},
		{"list []string", []string{"nothing", "s"}, "text"},
		{"list all empty", []any{"mobilephone", "telephone1"}, "ctx-default"},
		{"constant string", map[string]any{"value": "Hot leads"}, "Hot leads"},
		{"constant int", map[string]any{"value": 5000}, "5000"},
		{"constant float", map[string]any{"value": 2.5}, "2.5"},
		{"constant bool", map[string]any{"value": true}, "true"},
		{"constant empty falls to default", map[string]any{"value": ""}, "ctx-default"},
		{"constant map[any]any", map[any]any{"value": "x"}, "x"},
		{"template", map[string]any{"template": "Lead {{properties.firstname.value}} {{ properties.lastname.value }}"}, "Lead Bruno Silva"},
		{"template number", map[string]any{"template": "#{{n}}"}, "#4051"},
		{"template missing path is empty", map[string]any{"template": "{{nothing}}-{{s}}"}, "-text"},
		{"template all empty falls to default", map[string]any{"template": " {{nothing}} "}, "ctx-default"},
		{"template meta", map[string]any{"template": "{{$source}}/{{$kind}}/{{$object_type}}/{{$record_id}}/{{$body_hash}}/{{$dedup_key}}/{{$action}}"},
			"src/generic/lead/7/hash/dk/create"},
		{"template literal only", map[string]any{"template": "just text }}"}, "just text }}"},
	}
	ev := &Event{Source: "src", Kind: "generic", ObjectType: "lead", RecordID: "7", BodyHash: "hash", DedupKey: "dk", Action: "create", Record: []byte(rec)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, Spec{Source: "t", Rules: map[string]any{"context": tt.rule}, Defaults: full})
			r, err := m.Map(ev)
			if err != nil {
				t.Fatal(err)
			}
			if r.Params.Context != tt.want {
				t.Errorf("context = %q, want %q\ndecisions: %q", r.Params.Context, tt.want, r.Decisions)
			}
		})
	}
}

func TestIDAndOwner(t *testing.T) {
	m := mustCompile(t, Spec{Source: "hubspot", Defaults: full, Rules: map[string]any{
		"id":    map[string]any{"template": "{{$source}}-{{vid}}"},
		"owner": "properties.hubspot_owner_id.value",
	}, Agents: Agents{Fallback: &Route{Agent: "9"}}})
	r, err := m.Map(hubspotEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "hubspot-4051" || r.Owner != "71234567" {
		t.Errorf("ID, Owner = %q, %q", r.ID, r.Owner)
	}
	m = mustCompile(t, Spec{Source: "hubspot", Defaults: full})
	if r, _ = m.Map(hubspotEvent(t)); r.ID != "" || r.Owner != "" {
		t.Errorf("without rules ID, Owner = %q, %q", r.ID, r.Owner)
	}
}

func TestPresetOverride(t *testing.T) {
	spec := Spec{
		Source: "hubspot",
		Preset: map[string]any{
			"destination": "properties.phone.value",
			"owner":       "properties.hubspot_owner_id.value",
			"id":          "properties.hs_object_id.value",
			"context":     map[string]any{"value": "preset-ctx"},
		},
		Rules:    map[string]any{"context": map[string]any{"value": "mine"}},
		Defaults: full,
		Region:   "UY",
		Agents:   Agents{Routes: map[string]Route{"71234567": {Agent: "1001", Phone: "1001"}}},
	}
	r, err := mustCompile(t, spec).Map(hubspotEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	want := ucontact.Params{CallerID: "100", Agent: "1001", Phone: "1001", Tech: "SIP", Context: "mine", OutQueue: "queue-default", Destination: "59899123456"}
	if r.Params != want || r.ID != "4051" {
		t.Errorf("got %+v id %q, want %+v id 4051", r.Params, r.ID, want)
	}

	// A null rule removes the preset's: no owner, so no routing.
	spec.Rules = map[string]any{"owner": nil}
	r, err = mustCompile(t, spec).Map(hubspotEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Owner != "" || r.Params.Agent != "agent-default" || r.Params.Context != "preset-ctx" {
		t.Errorf("after removing owner: owner %q agent %q context %q", r.Owner, r.Params.Agent, r.Params.Context)
	}
}

func TestPrecedence(t *testing.T) {
	rec := []byte(`{"q":"from-record","blank":""}`)
	tests := []struct {
		name            string
		rules           map[string]any
		source, global  string
		want, wantError string
	}{
		{"rule wins", map[string]any{"outqueue": "q"}, "src", "glob", "from-record", ""},
		{"empty rule → source default", map[string]any{"outqueue": "blank"}, "src", "glob", "src", ""},
		{"no rule → source default", nil, "src", "glob", "src", ""},
		{"→ global default", map[string]any{"outqueue": "blank"}, "", "glob", "glob", ""},
		{"nothing, no rule", nil, "", "", "", "outqueue: no value (no mapping rule, no default)"},
		{"nothing, empty path", map[string]any{"outqueue": "blank"}, "", "", "", "outqueue: no value at blank"},
		{"nothing, empty list", map[string]any{"outqueue": []any{"blank", "x.y"}}, "", "", "", "outqueue: no value at blank, x.y"},
		{"nothing, empty template", map[string]any{"outqueue": map[string]any{"template": "{{blank}}"}}, "", "", "", `outqueue: template "{{blank}}" gave no value`},
		{"nothing, empty constant", map[string]any{"outqueue": map[string]any{"value": ""}}, "", "", "", "outqueue: no value (the constant is empty and there is no default)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := full
			d.OutQueue = tt.source
			m := mustCompile(t, Spec{Source: "s", Rules: tt.rules, Defaults: d, GlobalDefaults: ucontact.Params{OutQueue: tt.global}})
			r, err := m.Map(&Event{Record: rec})
			if tt.wantError != "" {
				if err == nil || err.Error() != "mapping failed: "+tt.wantError {
					t.Fatalf("err = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Params.OutQueue != tt.want {
				t.Errorf("outqueue = %q, want %q", r.Params.OutQueue, tt.want)
			}
		})
	}
}

func TestTechDefaultsToSIP(t *testing.T) {
	d := full
	d.Tech = ""
	r, err := mustCompile(t, Spec{Defaults: d}).Map(&Event{Record: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Params.Tech != "SIP" {
		t.Errorf("tech = %q", r.Params.Tech)
	}
	if !strings.Contains(strings.Join(r.Decisions, "\n"), `tech = "SIP" from built-in default`) {
		t.Errorf("decisions do not explain tech: %q", r.Decisions)
	}
}

func TestRouting(t *testing.T) {
	agents := Agents{Routes: map[string]Route{
		"71234567":        {Agent: "1001", Phone: "2001"},
		"Ana@Example.com": {Agent: "1002", Phone: "2002"},
		"no-phone":        {Agent: "1003"},
	}}
	fallback := &Route{Agent: "1000", Phone: "2000"}
	tests := []struct {
		name        string
		record      string
		rules       map[string]any
		fallback    *Route
		agent       string
		phone       string
		wantErr     string
		wantDecided string
	}{
		{"route hit", `{"o":"71234567"}`, nil, nil, "1001", "2001", "", `agent = "1001" from route for owner "71234567"`},
		{"case-insensitive email", `{"o":"ana@example.COM"}`, nil, nil, "1002", "2002", "", "(case-insensitive)"},
		{"route without phone → default phone", `{"o":"no-phone"}`, nil, nil, "1003", "1999", "", ""},
		{"fallback", `{"o":"999"}`, nil, fallback, "1000", "2000", "", `fallback route (owner "999" has no route)`},
		{"no fallback", `{"o":"999"}`, nil, nil, "", "", `agent: owner "999" has no route and there is no fallback`, ""},
		{"owner empty → defaults", `{"o":""}`, nil, nil, "agent-default", "1999", "", ""},
		{"no owner rule → defaults", `{"o":"71234567"}`, map[string]any{"owner": nil}, nil, "agent-default", "1999", "", ""},
		{"direct agent skips routing", `{"o":"999","a":"7"}`, map[string]any{"agent": "a"}, nil, "7", "1999", "", ""},
		{"direct phone skips routing", `{"o":"999","p":"8"}`, map[string]any{"phone": "p"}, nil, "agent-default", "8", "", ""},
		{"empty direct agent → routing", `{"o":"71234567","a":""}`, map[string]any{"agent": "a"}, nil, "1001", "2001", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := map[string]any{"owner": "o"}
			for k, v := range tt.rules {
				rules[k] = v
			}
			a := agents
			a.Fallback = tt.fallback
			m := mustCompile(t, Spec{Source: "s", Rules: rules, Defaults: full, Agents: a})
			r, err := m.Map(&Event{Record: []byte(tt.record)})
			if tt.wantErr != "" {
				if err == nil || err.Error() != "mapping failed: "+tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Params.Agent != tt.agent || r.Params.Phone != tt.phone {
				t.Errorf("agent, phone = %q, %q; want %q, %q", r.Params.Agent, r.Params.Phone, tt.agent, tt.phone)
			}
			if tt.wantDecided != "" && !strings.Contains(strings.Join(r.Decisions, "\n"), tt.wantDecided) {
				t.Errorf("decisions %q lack %q", r.Decisions, tt.wantDecided)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, region     string
		opts            PhoneOptions
		want            string
		wantWarn, wantE string
	}{
		{raw: "099 123 456", region: "UY", want: "59899123456"},
		{raw: "099 123 456", region: "uy", opts: PhoneOptions{Format: "digits"}, want: "59899123456"},
		{raw: "099 123 456", region: "UY", opts: PhoneOptions{Format: "national"}, want: "099123456"},
		{raw: "099 123 456", region: "UY", opts: PhoneOptions{Format: "e164"}, want: "+59899123456"},
		{raw: "099 123 456", region: "UY", opts: PhoneOptions{Format: "E164"}, want: "+59899123456"},
		{raw: "099 123 456", opts: PhoneOptions{DefaultRegion: "UY"}, want: "59899123456"},
		{raw: "+598 2 901 2345", region: "UY", opts: PhoneOptions{Format: "national"}, want: "29012345"},
		{raw: "00598 99 123 456", region: "UY", want: "59899123456"},
		{raw: "+1 (415) 555-0132", region: "US", want: "14155550132"},
		{raw: "+1 (415) 555-0132", region: "UY", opts: PhoneOptions{Format: "e164"}, want: "+14155550132"},
		{raw: "(415) 555-0132", region: "US", opts: PhoneOptions{Format: "national"}, want: "4155550132"},
		{raw: "+54 9 11 5123-4567", region: "AR", want: "5491151234567"},
		{raw: "+54 9 11 5123-4567", opts: PhoneOptions{Format: "e164"}, want: "+5491151234567"},
		{raw: "59899123456", want: "59899123456"},
		{raw: "0059899123456", want: "59899123456"},
		{raw: "+59899123456", opts: PhoneOptions{Format: "national"}, want: "099123456"},
		{raw: " (598) 99-123-456 ", want: "59899123456"},
		{raw: "099 123 456", region: "UY", opts: PhoneOptions{Prefix: "9"}, want: "959899123456"},
		{raw: "099 123 456", region: "UY", opts: PhoneOptions{Prefix: "0", Format: "national"}, want: "0099123456"},
		{raw: "12", region: "UY", wantE: `"12" is not a possible phone number (too short)`},
		{raw: "12", wantE: `"12" is not a possible phone number (too short)`},
		{raw: "", region: "UY", wantE: `"" is not a possible phone number (empty)`},
		{raw: "n/a", region: "UY", wantE: `"n/a" is not a possible phone number (not a number)`},
		{raw: "+999 123 456 789", wantE: `"+999 123 456 789" is not a possible phone number (unknown country code)`},
		{raw: "099 123 456 789 012 345", region: "UY", wantE: `"099 123 456 789 012 345" is not a possible phone number (too long)`},
		{raw: "099 123 456", region: "XX", wantE: `unknown region "XX"`},
		{raw: "099 123 456", region: "UY", opts: PhoneOptions{Format: "pretty"}, wantE: `unknown phone format "pretty" (want e164, digits or national)`},
		// Possible (right length) but not in use: refused, unless
		// phone.allow_invalid, which dials it with a warning.
		{raw: "+1 415 123 4567", wantE: `"+1 415 123 4567" is not a valid US number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{raw: "01 234 567", region: "UY", wantE: `"01 234 567" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{raw: "+1 415 123 4567", opts: PhoneOptions{AllowInvalid: true}, want: "14151234567", wantWarn: `"+1 415 123 4567" is a possible but not a valid US number; dialing it anyway`},
		{raw: "01 234 567", region: "UY", opts: PhoneOptions{AllowInvalid: true}, want: "5981234567", wantWarn: `"01 234 567" is a possible but not a valid UY number; dialing it anyway`},
		// Separators people write.
		{raw: "099.123.456", region: "UY", want: "59899123456"},
		{raw: "099/123456", region: "UY", want: "59899123456"},
		{raw: "099\u00a0123\u00a0456", region: "UY", want: "59899123456"},
		// The whitelist: anything else is refused, naming the character.
		{raw: "\u202e654321990", region: "UY", wantE: `"\u202e654321990" has a character that is not allowed (U+202E '\u202e' at character 1); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		{raw: "099\u200b123456", region: "UY", wantE: `"099\u200b123456" has a character that is not allowed (U+200B '\u200b' at character 4); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		{raw: "099\x00123456", region: "UY", wantE: `"099\x00123456" has a character that is not allowed (U+0000 '\x00' at character 4); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		{raw: "099 123\r\n456", region: "UY", wantE: `"099 123\r\n456" has a character that is not allowed (U+000D '\r' at character 8); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		{raw: "099\xff123456", region: "UY", wantE: `"099\xff123456" is not valid UTF-8`},
		{raw: "099 ١٢٣ 456", region: "UY", wantE: `"099 ١٢٣ 456" has a character that is not allowed (U+0661 '١' at character 5); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		{raw: "598+99123456", wantE: `"598+99123456" has a character that is not allowed (U+002B '+' at character 4); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		{raw: "099 123 456#", region: "UY", wantE: `"099 123 456#" has a character that is not allowed (U+0023 '#' at character 12); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		{raw: "tel:+598-99-123-456", wantE: `"tel:+598-99-123-456" has a character that is not allowed (U+003A ':' at character 4); a phone number is digits with an optional leading + and the separators space - . ( ) /`},
		// Letters only with phone.allow_letters; never an extension.
		{raw: "099-CALL-NOW", region: "UY", wantE: `"099-CALL-NOW" has letters; a phone number is digits with an optional leading + and the separators space - . ( ) /; set phone.allow_letters: true to read keypad letters such as 1-800-FLOWERS`},
		{raw: "1-800-FLOWERS", region: "US", wantE: `"1-800-FLOWERS" has letters; a phone number is digits with an optional leading + and the separators space - . ( ) /; set phone.allow_letters: true to read keypad letters such as 1-800-FLOWERS`},
		{raw: "099 123 456 ext. 12", region: "UY", wantE: `"099 123 456 ext. 12" has letters; a phone number is digits with an optional leading + and the separators space - . ( ) /; set phone.allow_letters: true to read keypad letters such as 1-800-FLOWERS`},
		{raw: "1-800-FLOWERS", region: "US", opts: PhoneOptions{AllowLetters: true}, want: "18003569377"},
		{raw: "099-CALL-NOW", region: "UY", opts: PhoneOptions{AllowLetters: true}, wantE: `"099-CALL-NOW" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{raw: "099 123 456 ext. 12", region: "UY", opts: PhoneOptions{AllowLetters: true}, wantE: `"099 123 456 ext. 12" has an extension (12), which cannot be dialed; keep only the number in this field`},
		{raw: "+598 99 123 456 x12", opts: PhoneOptions{AllowLetters: true}, wantE: `"+598 99 123 456 x12" has an extension (12), which cannot be dialed; keep only the number in this field`},
		// A long value is refused without being quoted whole.
		{raw: strings.Repeat("9", 70), region: "UY", wantE: `"` + strings.Repeat("9", 48) + `"… (70 bytes) is not a possible phone number (too long)`},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.region+"/"+tt.opts.Format, func(t *testing.T) {
			got, warn, err := NormalizePhone(tt.raw, tt.region, tt.opts)
			if tt.wantE != "" {
				if err == nil || err.Error() != tt.wantE {
					t.Fatalf("err = %v, want %q (got %q)", err, tt.wantE, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || warn != tt.wantWarn {
				t.Errorf("got %q, %q; want %q, %q", got, warn, tt.want, tt.wantWarn)
			}
		})
	}
}

func TestMapPhones(t *testing.T) {
	rec := []byte(`{"phone":"099 123 456","caller":"2 901 2345","bad":"12","odd":"01 234 567","alt":"098 765 432"}`)
	tests := []struct {
		name     string
		rules    map[string]any
		defaults ucontact.Params
		format   string
		callerid string
		dest     string
		wantErr  string
		wantWarn string
		// allowInvalid sets phone.allow_invalid.
		allowInvalid bool
	}{
		{name: "destination and callerid from record", rules: map[string]any{"destination": "phone", "callerid": "caller"}, callerid: "59829012345", dest: "59899123456"},
		{name: "national format", rules: map[string]any{"destination": "phone", "callerid": "caller"}, format: "national", callerid: "29012345", dest: "099123456"},
		{name: "callerid constant kept as is", rules: map[string]any{"destination": "phone", "callerid": map[string]any{"value": "0800 1234"}}, callerid: "0800 1234", dest: "59899123456"},
		{name: "callerid template normalized", rules: map[string]any{"destination": "phone", "callerid": map[string]any{"template": "{{caller}}"}}, callerid: "59829012345", dest: "59899123456"},
		{name: "callerid default kept as is", rules: map[string]any{"destination": "phone"}, callerid: "100", dest: "59899123456"},
		{name: "destination default normalized", rules: map[string]any{"destination": "missing"}, defaults: ucontact.Params{Destination: "098 765 432"}, callerid: "100", dest: "59898765432"},
		{name: "destination constant normalized", rules: map[string]any{"destination": map[string]any{"value": "098 765 432"}}, callerid: "100", dest: "59898765432"},
		{name: "list uses first present", rules: map[string]any{"destination": []any{"mobile", "alt", "phone"}}, callerid: "100", dest: "59898765432"},
		{name: "impossible destination", rules: map[string]any{"destination": "bad"}, wantErr: `destination: "12" is not a possible phone number (too short)`},
		{name: "impossible callerid", rules: map[string]any{"destination": "phone", "callerid": "bad"}, wantErr: `callerid: "12" is not a possible phone number (too short)`},
		{name: "missing destination", rules: map[string]any{"destination": "properties.phone.value"}, defaults: ucontact.Params{Destination: "-"}, wantErr: `destination: no value at properties.phone.value`},
		{name: "missing destination list", rules: map[string]any{"destination": []any{"mobilephone", "telephone1"}}, defaults: ucontact.Params{Destination: "-"}, wantErr: `destination: no value at mobilephone, telephone1`},
		{name: "possible but invalid", rules: map[string]any{"destination": "odd"}, wantErr: `destination: "01 234 567" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{name: "possible but invalid, allowed", rules: map[string]any{"destination": "odd"}, allowInvalid: true, callerid: "100", dest: "5981234567", wantWarn: `destination: "01 234 567" is a possible but not a valid UY number; dialing it anyway`},
		{name: "invalid callerid from record", rules: map[string]any{"destination": "phone", "callerid": "odd"}, wantErr: `callerid: "01 234 567" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := full
			d.Destination = tt.defaults.Destination
			if d.Destination == "-" {
				d.Destination = ""
			}
			m := mustCompile(t, Spec{Source: "s", Rules: tt.rules, Defaults: d, Region: "UY", Phone: PhoneOptions{Format: tt.format, AllowInvalid: tt.allowInvalid}})
			r, err := m.Map(&Event{Record: rec})
			if tt.wantErr != "" {
				if err == nil || err.Error() != "mapping failed: "+tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Params.CallerID != tt.callerid || r.Params.Destination != tt.dest {
				t.Errorf("callerid, destination = %q, %q; want %q, %q", r.Params.CallerID, r.Params.Destination, tt.callerid, tt.dest)
			}
			var warns []string
			if tt.wantWarn != "" {
				warns = []string{tt.wantWarn}
			}
			if !reflect.DeepEqual(r.Warnings, warns) {
				t.Errorf("warnings = %q, want %q", r.Warnings, warns)
			}
		})
	}
}

func TestSamples(t *testing.T) {
	tests := []struct {
		file   string
		rules  map[string]any
		region string
		format string
		dest   string
		id     string
	}{
		{samples.PipedriveV2Person, map[string]any{"destination": "data.phones.#(primary==true).value", "id": "meta.id"}, "", "", "5491151234567", "7c1f3b2e-5a44-4e0b-9a1d-2f6c8e9b0a11"},
		// National format of the non-primary (landline) phone. (For Argentine
		// mobiles phonenumbers v1.8.1 formats "09 15-5123-4567" where
		// libphonenumber gives "011 15-5123-4567": use digits or e164 there.)
		{samples.PipedriveV2Person, map[string]any{"destination": "data.phones.#(primary==false).value", "id": "data.id"}, "AR", "national", "01141234567", "812"},
		{samples.PipedriveV2Person, map[string]any{"destination": "data.phones.#(primary==true).value", "id": "data.id"}, "AR", "", "5491151234567", "812"},
		{samples.DynamicsLeadCreate, map[string]any{
			"destination": []any{
				`InputParameters.#(key=="Target").value.Attributes.#(key=="mobilephone").value`,
				`InputParameters.#(key=="Target").value.Attributes.#(key=="telephone1").value`,
			},
			"id": "PrimaryEntityId",
		}, "US", "e164", "+14155550132", "3f1d9b22-5c6a-ef11-8409-000d3a5c1b2e"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.region, func(t *testing.T) {
			m := mustCompile(t, Spec{Source: "s", Rules: tt.rules, Defaults: full, Region: tt.region, Phone: PhoneOptions{Format: tt.format}})
			r, err := m.Map(&Event{Record: samples.Body(tt.file)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Params.Destination != tt.dest || r.ID != tt.id {
				t.Errorf("destination, id = %q, %q; want %q, %q", r.Params.Destination, r.ID, tt.dest, tt.id)
			}
		})
	}
}

func TestWhen(t *testing.T) {
	tests := []struct {
		name    string
		when    string
		record  string
		matched bool
		wantErr string
	}{
		{"true", `properties.lifecyclestage.value == "lead"`, "", true, ""},
		{"false", `properties.lifecyclestage.value == "customer"`, "", false, ""},
		{"missing field is false", `properties.nope.value == "lead"`, "", false, ""},
		{"missing record part is false", `properties.lifecyclestage.value == "lead"`, `{"vid":1}`, false, ""},
		{"missing bare field is false", `vip`, `{}`, false, ""},
		{"not-equal on missing is true", `properties.x.value != "y"`, `{}`, true, ""},
		{"record with dashes", `record["portal-id"] == 62515`, "", true, ""},
		{"number", `vid > 4000 && vid < 5000`, "", true, ""},
		{"in list", `properties.lifecyclestage.value in ["lead", "mql"]`, "", true, ""},
		{"event variables", `event.kind == "hubspot" && event.object_type == "contact" && event.source == "hubspot" && event.record_id == "4051" && event.action == "change"`, "", true, ""},
		{"whole record", `len(record) > 3`, "", true, ""},
		{"whole top-level value", `"phone" in properties`, "", true, ""},
		{"nested then index", `properties.phone.versions[0].value == "099 123 456"`, "", true, ""},
		{"prefix and longer chain", `properties.phone != nil && properties.phone.value == "099 123 456"`, "", true, ""},
		{"builtin", `upper(properties.lifecyclestage.value) == "LEAD"`, "", true, ""},
		{"runtime error", `vid > "x"`, "", false, `when: invalid operation: float64 > string (1:5)`},
		{"comparison with missing is an error", `missing > 3`, `{}`, false, `when: invalid operation: <nil> > int (1:9)`},
		{"not a boolean", `properties.firstname.value`, "", false, `when: invalid operation: bool(string) (1:1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := hubspotEvent(t)
			if tt.record != "" {
				ev.Record = []byte(tt.record)
			}
			m := mustCompile(t, Spec{Source: "hubspot", When: tt.when, Defaults: full})
			r, err := m.Map(ev)
			if tt.wantErr != "" {
				if err == nil || err.Error() != "mapping failed: "+tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var me *Error
				if !errors.As(err, &me) || me.Fields["when"] == "" {
					t.Errorf("error is not a field error on when: %#v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Matched != tt.matched {
				t.Errorf("Matched = %v, want %v; decisions %q", r.Matched, tt.matched, r.Decisions)
			}
			if !tt.matched && (r.Params != ucontact.Params{}) {
				t.Errorf("unmatched event has params %+v", r.Params)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string // one line of the error
	}{
		{"misspelled key", Spec{Rules: map[string]any{"destnation": "a"}}, "mapping.destnation: unknown key; did you mean `destination`?"},
		{"misspelled agent", Spec{Rules: map[string]any{"agnt": "a"}}, "mapping.agnt: unknown key; did you mean `agent`?"},
		{"unknown key", Spec{Rules: map[string]any{"bogus": "a"}}, `mapping.bogus: unknown key (allowed: callerid, agent, phone, tech, context, outqueue, destination, owner, id)`},
		{"unknown preset key", Spec{Preset: map[string]any{"nope": "a"}}, `preset.nope: unknown key`},
		{"bad preset rule", Spec{Preset: map[string]any{"id": 3}}, `preset.id: got a number; want a path, a list of paths, {value: ...} or {template: ...}`},
		{"empty path", Spec{Rules: map[string]any{"agent": ""}}, `mapping.agent: empty path`},
		{"double dot", Spec{Rules: map[string]any{"agent": "a..b"}}, `mapping.agent: path "a..b" has an empty component (check the dots)`},
		{"leading dot", Spec{Rules: map[string]any{"agent": ".a"}}, `mapping.agent: path ".a" has an empty component (check the dots)`},
		{"trailing dot", Spec{Rules: map[string]any{"agent": "a."}}, `mapping.agent: path "a." ends with '.'`},
		{"unclosed query", Spec{Rules: map[string]any{"agent": "a.#(b==1"}}, `mapping.agent: path "a.#(b==1": missing ')'`},
		{"unbalanced", Spec{Rules: map[string]any{"agent": "a)"}}, `mapping.agent: path "a)": unbalanced ')' at offset 1`},
		{"unterminated query string", Spec{Rules: map[string]any{"agent": `a.#(b=="x)`}}, `mapping.agent: path "a.#(b==\"x)": unterminated string in query`},
		{"lone backslash", Spec{Rules: map[string]any{"agent": `a\`}}, `mapping.agent: path "a\\" ends with a lone backslash`},
		{"unknown modifier", Spec{Rules: map[string]any{"agent": "@nope"}}, `mapping.agent: path "@nope": unknown modifier @nope`},
		{"empty list", Spec{Rules: map[string]any{"destination": []any{}}}, `mapping.destination: empty list: give at least one path`},
		{"non-string in list", Spec{Rules: map[string]any{"destination": []any{"a", 5}}}, `mapping.destination: list item 2 is a number; want a path`},
		{"bad path in list", Spec{Rules: map[string]any{"destination": []any{"a", "b..c"}}}, `mapping.destination: list item 2: path "b..c" has an empty component (check the dots)`},
		{"value and template", Spec{Rules: map[string]any{"context": map[string]any{"value": "a", "template": "b"}}}, `mapping.context: use either "value" or "template", not both`},
		{"empty map", Spec{Rules: map[string]any{"context": map[string]any{}}}, `mapping.context: a rule map needs "value" or "template"`},
		{"unknown rule key", Spec{Rules: map[string]any{"context": map[string]any{"path": "a"}}}, `mapping.context: unknown rule key "path"; want "value" or "template"`},
		{"value is a list", Spec{Rules: map[string]any{"context": map[string]any{"value": []any{"a"}}}}, `mapping.context: value is a list; want a string, number or boolean`},
		{"template not string", Spec{Rules: map[string]any{"context": map[string]any{"template": 1}}}, `mapping.context: template is a number; want a string`},
		{"unterminated placeholder", Spec{Rules: map[string]any{"context": map[string]any{"template": "Lead {{name"}}}, `mapping.context: template "Lead {{name": unterminated "{{" at offset 5`},
		{"empty placeholder", Spec{Rules: map[string]any{"context": map[string]any{"template": "a {{ }}"}}}, `mapping.context: template "a {{ }}": empty placeholder {{}}`},
		{"unknown meta", Spec{Rules: map[string]any{"context": map[string]any{"template": "{{$nope}}"}}}, `mapping.context: template "{{$nope}}": unknown variable $nope (known: $body_hash, $record_id, $object_type, $source, $kind, $dedup_key, $action)`},
		{"bad placeholder path", Spec{Rules: map[string]any{"context": map[string]any{"template": "{{a..b}}"}}}, `mapping.context: template "{{a..b}}": path "a..b" has an empty component (check the dots)`},
		{"non-string rule", Spec{Rules: map[string]any{"tech": true}}, `mapping.tech: got a boolean; want a path, a list of paths, {value: ...} or {template: ...}`},
		{"bad region", Spec{Region: "XX"}, `region: "XX" is not a known region code (ISO 3166 alpha-2, e.g. "UY")`},
		{"bad region length", Spec{Region: "URY"}, `region: "URY" is not a known region code (ISO 3166 alpha-2, e.g. "UY")`},
		{"bad default region", Spec{Phone: PhoneOptions{DefaultRegion: "ZZ"}}, `phone.default_region: "ZZ" is not a known region code (ISO 3166 alpha-2, e.g. "UY")`},
		{"bad format", Spec{Phone: PhoneOptions{Format: "pretty"}}, `phone.format: unknown format "pretty" (want e164, digits or national)`},
		{"bad when", Spec{When: `properties.x ==`}, `when: unexpected token EOF (1:15)`},
		{"unknown function", Spec{When: `nope(1)`}, `when: unknown function nope()`},
		{"route without agent", Spec{Agents: Agents{Routes: map[string]Route{"7": {Phone: "1"}}}}, `agents.routes.7: route has no agent`},
		{"fallback without agent", Spec{Agents: Agents{Fallback: &Route{Phone: "1"}}}, `agents.fallback: route has no agent`},
		{"routes differing in case", Spec{Agents: Agents{Routes: map[string]Route{"a@x.com": {Agent: "1"}, "A@x.com": {Agent: "2"}}}}, `agents.routes.a@x.com: same owner as "A@x.com" except for case; keep one`},
		{"impossible default destination", Spec{Region: "UY", Defaults: ucontact.Params{Destination: "12"}}, `defaults.destination: "12" is not a possible phone number (too short)`},
		{"impossible global destination", Spec{Region: "UY", GlobalDefaults: ucontact.Params{Destination: "12"}}, `global defaults.destination: "12" is not a possible phone number (too short)`},
		{"impossible constant destination", Spec{Region: "UY", Rules: map[string]any{"destination": map[string]any{"value": "12"}}}, `mapping.destination: "12" is not a possible phone number (too short)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Source = "hubspot"
			_, err := Compile(tt.spec)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CompileError", err)
			}
			want := `source "hubspot": ` + tt.want
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n%s\nwant a line starting\n%s", err, want)
			}
		})
	}
}

func TestCompileErrorListsAll(t *testing.T) {
	_, err := Compile(Spec{
		Source: "hubspot",
		Rules: map[string]any{
			"destination": []any{},
			"agnet":       "x",
			"context":     map[string]any{"template": "{{"},
		},
		Region: "XX",
		Phone:  PhoneOptions{Format: "pretty"},
		When:   "(",
		Agents: Agents{Routes: map[string]Route{"7": {}}},
	})
	want := `source "hubspot": mapping.agnet: unknown key; did you mean ` + "`agent`?" + `
source "hubspot": mapping.context: template "{{": unterminated "{{" at offset 0
source "hubspot": mapping.destination: empty list: give at least one path
source "hubspot": phone.format: unknown format "pretty" (want e164, digits or national)
source "hubspot": region: "XX" is not a known region code (ISO 3166 alpha-2, e.g. "UY")
source "hubspot": when: unexpected token EOF (1:1)
source "hubspot": agents.routes.7: route has no agent`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if ce := (*CompileError)(nil); !errors.As(err, &ce) || len(ce.Problems) != 7 {
		t.Errorf("problems: %#v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	err := error(&Error{Fields: map[string]string{
		"destination": "no value at properties.phone.value",
		"agent":       `owner "71234567" has no route and there is no fallback`,
		"outqueue":    "no value (no mapping rule, no default)",
	}})
	want := `mapping failed: agent: owner "71234567" has no route and there is no fallback; destination: no value at properties.phone.value; outqueue: no value (no mapping rule, no default)`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if !errors.Is(err, ErrMappingFailed) || !errors.Is(fmtWrap(err), ErrMappingFailed) {
		t.Error("errors.Is(err, ErrMappingFailed) = false")
	}
	if errors.Unwrap(err) != ErrMappingFailed {
		t.Error("Unwrap")
	}
}

func fmtWrap(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "dispatch: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestAllFieldsReportedAtOnce(t *testing.T) {
	m := mustCompile(t, Spec{Source: "hubspot", Rules: map[string]any{
		"destination": "properties.mobilephone.value",
		"owner":       "properties.hubspot_owner_id.value",
	}})
	r, err := m.Map(hubspotEvent(t))
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	want := map[string]string{
		"agent":       `owner "71234567" has no route and there is no fallback`,
		"phone":       "no value (no mapping rule, no default)",
		"callerid":    "no value (no mapping rule, no default)",
		"context":     "no value (no mapping rule, no default)",
		"outqueue":    "no value (no mapping rule, no default)",
		"destination": "no value at properties.mobilephone.value",
	}
	if !reflect.DeepEqual(me.Fields, want) {
		t.Errorf("fields = %q\nwant %q", me.Fields, want)
	}
	if r == nil || len(r.Decisions) == 0 {
		t.Error("no partial result with decisions")
	}
}

// TestDecisionsGolden pins the dry-run trail of the benchmark's rule set.
func TestDecisionsGolden(t *testing.T) {
	spec := benchSpec()
	spec.When = `properties.lifecyclestage.value == "lead"`
	r, err := mustCompile(t, spec).Map(hubspotEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(r.Decisions, "\n") + "\n"
	const golden = "testdata/hubspot-decisions.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := string(readFile(t, "hubspot-decisions.golden")); got != want {
		t.Errorf("decisions:\n%s\nwant:\n%s", got, want)
	}
	want := ucontact.Params{CallerID: "59829001234", Agent: "1001", Phone: "1001", Tech: "SIP", Context: "from-internal", OutQueue: "Ventas->", Destination: "59899123456"}
	if r.Params != want || r.ID != "hubspot-4051" || r.Owner != "71234567" || !r.Matched {
		t.Errorf("result %+v", r)
	}
}

func TestConcurrentMap(t *testing.T) {
	spec := benchSpec()
	spec.When = `properties.lifecyclestage.value == "lead"`
	m := mustCompile(t, spec)
	ev := hubspotEvent(t)
	want, err := m.Map(ev)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				r, err := m.Map(ev)
				if err != nil || r.Params != want.Params {
					t.Errorf("concurrent Map: %v %+v", err, r)
					return
				}
			}
		})
	}
	wg.Wait()
}
