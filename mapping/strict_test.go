package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"dialhook/ucontact"
)

const syntax = "a phone number is digits with an optional leading + and the separators space - . ( ) /"

// mapBoth maps ev with Map and MapParams and fails the test when they
// disagree on anything but Decisions.
func mapBoth(t *testing.T, m *Mapper, ev *Event) (*Result, error) {
	t.Helper()
	r, err := m.Map(ev)
	p, perr := m.MapParams(ev)
	w := *r
	w.Decisions = nil
	if !reflect.DeepEqual(*p, w) || !reflect.DeepEqual(perr, err) {
		t.Errorf("MapParams = %+v, %v\nMap       = %+v, %v", *p, perr, w, err)
	}
	return r, err
}

// fieldError is the message err gives for field ("" when none).
func fieldError(t *testing.T, err error, field string) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want a *Error", err)
	}
	return me.Fields[field]
}

// A destination, a caller id read from the record and the agent's phone
// read from the record are dialed only when they are exactly a number:
// otherwise the event fails on that field and nothing is set for it.
func TestStrictPhonesFromRecord(t *testing.T) {
	tests := []struct {
		name  string
		field string // destination, callerid or phone
		json  string // the value as it appears in the record
		opts  PhoneOptions
		want  string // the parameter, when it maps
		err   string // the field's error, when it does not
	}{
		{"whole JSON number", "destination", `59899123456`, PhoneOptions{}, "59899123456", ""},
		{"fraction", "destination", `59899123456.0`, PhoneOptions{}, "", `"59899123456.0" is a JSON number with a fraction or exponent; send the phone number as text or as a whole number`},
		{"exponent", "destination", `5.9899123456e10`, PhoneOptions{}, "", `"5.9899123456e10" is a JSON number with a fraction or exponent; send the phone number as text or as a whole number`},
		{"fraction even with opt-ins", "destination", `59899123456.0`, PhoneOptions{AllowLetters: true, AllowInvalid: true}, "", `"59899123456.0" is a JSON number with a fraction or exponent; send the phone number as text or as a whole number`},
		{"negative", "destination", `-59899123456`, PhoneOptions{}, "", `"-59899123456" is a negative JSON number; send the phone number as text or as a whole number`},
		{"object", "destination", `{"n":"099 123 456"}`, PhoneOptions{}, "", `"{\"n\":\"099 123 456\"}" is a JSON object or array, not a phone number`},
		{"fraction as text is a separator, then invalid", "destination", `"59899123456.0"`, PhoneOptions{}, "", `"59899123456.0" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{"bidi override", "destination", `"\u202e654321990"`, PhoneOptions{}, "", `"\u202e654321990" has a character that is not allowed (U+202E '\u202e' at character 1); ` + syntax},
		{"zero-width space", "destination", `"099\u200b123456"`, PhoneOptions{}, "", `"099\u200b123456" has a character that is not allowed (U+200B '\u200b' at character 4); ` + syntax},
		{"NUL", "destination", `"099\u0000123456"`, PhoneOptions{}, "", `"099\x00123456" has a character that is not allowed (U+0000 '\x00' at character 4); ` + syntax},
		{"CR LF inside", "destination", `"099\r\n123456"`, PhoneOptions{}, "", `"099\r\n123456" has a character that is not allowed (U+000D '\r' at character 4); ` + syntax},
		{"invalid UTF-8", "destination", "\"099\xff123456\"", PhoneOptions{}, "", `"099\xff123456" is not valid UTF-8`},
		{"keypad letters", "destination", `"099-CALL-NOW"`, PhoneOptions{}, "", `"099-CALL-NOW" has letters; ` + syntax + `; set phone.allow_letters: true to read keypad letters such as 1-800-FLOWERS`},
		{"keypad letters allowed, but not a valid number", "destination", `"099-CALL-NOW"`, PhoneOptions{AllowLetters: true}, "", `"099-CALL-NOW" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{"keypad letters allowed", "destination", `"+1-800-FLOWERS"`, PhoneOptions{AllowLetters: true}, "18003569377", ""},
		{"extension", "destination", `"099 123 456 ext. 12"`, PhoneOptions{AllowLetters: true}, "", `"099 123 456 ext. 12" has an extension (12), which cannot be dialed; keep only the number in this field`},
		{"invalid number", "destination", `"01 234 567"`, PhoneOptions{}, "", `"01 234 567" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{"invalid number allowed", "destination", `"01 234 567"`, PhoneOptions{AllowInvalid: true}, "5981234567", ""},

		{"callerid whole number", "callerid", `29012345`, PhoneOptions{}, "59829012345", ""},
		{"callerid fraction", "callerid", `29012345.0`, PhoneOptions{}, "", `"29012345.0" is a JSON number with a fraction or exponent; send the phone number as text or as a whole number`},
		{"callerid letters", "callerid", `"2901-CALL"`, PhoneOptions{}, "", `"2901-CALL" has letters; ` + syntax + `; set phone.allow_letters: true to read keypad letters such as 1-800-FLOWERS`},
		{"callerid bidi", "callerid", `"\u202e54321092"`, PhoneOptions{}, "", `"\u202e54321092" has a character that is not allowed (U+202E '\u202e' at character 1); ` + syntax},

		{"agent phone whole number", "phone", `1001`, PhoneOptions{}, "1001", ""},
		{"agent phone text", "phone", `"1001"`, PhoneOptions{}, "1001", ""},
		{"agent phone fraction", "phone", `1001.0`, PhoneOptions{}, "", `"1001.0" is a JSON number with a fraction or exponent; send the phone number as text or as a whole number`},
		{"agent phone exponent", "phone", `1e3`, PhoneOptions{}, "", `"1e3" is a JSON number with a fraction or exponent; send the phone number as text or as a whole number`},
		{"agent phone letters", "phone", `"10a1"`, PhoneOptions{}, "", `"10a1" has letters; ` + syntax},
		{"agent phone letters even when allowed for customers", "phone", `"10a1"`, PhoneOptions{AllowLetters: true}, "", `"10a1" has letters; ` + syntax},
		{"agent phone no digits", "phone", `"--"`, PhoneOptions{}, "", `"--" has no digits; ` + syntax},
		{"agent phone LF", "phone", `"1001\n1002"`, PhoneOptions{}, "", `"1001\n1002" has a character that is not allowed (U+000A '\n' at character 5); ` + syntax},
		{"agent phone too long", "phone", `"` + strings.Repeat("1", 33) + `"`, PhoneOptions{}, "", `"` + strings.Repeat("1", 33) + `" is longer than 32 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := map[string]any{"destination": "d"}
			rec := `{"d":"099 123 456","v":` + tt.json + `}`
			rules[tt.field] = "v"
			m := mustCompile(t, Spec{Source: "s", Rules: rules, Defaults: full, Region: "UY", Phone: tt.opts})
			r, err := mapBoth(t, m, &Event{Record: []byte(rec)})
			if got := fieldError(t, err, tt.field); got != tt.err {
				t.Fatalf("%s error = %q\nwant          %q", tt.field, got, tt.err)
			}
			if err != nil && len(err.(*Error).Fields) != 1 {
				t.Errorf("other fields failed too: %v", err)
			}
			if got := r.Params.Get(tt.field); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.field, got, tt.want)
			}
		})
	}
}

// Every AgentCall parameter is valid UTF-8, free of control and formatting
// characters, and within its bound, whatever the record holds.
func TestParamBounds(t *testing.T) {
	long := strings.Repeat("x", 500<<10)
	tests := []struct {
		name  string
		field string
		value string // a JSON string's content, Go-escaped
		err   string
	}{
		{"campaign name with arrow", "outqueue", "Ventas->", ""},
		{"accents and spaces", "context", "Campaña Ñandú 2", ""},
		{"agent email", "agent", "ana@example.com", ""},
		{"surrounding CR LF trimmed as before", "agent", "\r\nana\r\n", ""},
		{"CR LF inside", "agent", "ana\r\nX-Injected: 1", `"ana\r\nX-Injected: 1" has a control or formatting character (U+000D '\r' at character 4)`},
		{"NUL", "context", "from\x00internal", `"from\x00internal" has a control or formatting character (U+0000 '\x00' at character 5)`},
		{"tab", "outqueue", "Ventas\t->", `"Ventas\t->" has a control or formatting character (U+0009 '\t' at character 7)`},
		{"bidi override", "outqueue", "Ventas\u202e->", `"Ventas\u202e->" has a control or formatting character (U+202E '\u202e' at character 7)`},
		{"zero-width space", "tech", "S\u200bIP", `"S\u200bIP" has a control or formatting character (U+200B '\u200b' at character 2)`},
		{"line separator", "context", "a\u2028b", `"a\u2028b" has a control or formatting character (U+2028 '\u2028' at character 2)`},
		{"invalid UTF-8", "context", "from\xffinternal", `"from\xffinternal" is not valid UTF-8`},
		{"500 KB", "outqueue", long, `"` + strings.Repeat("x", 48) + `"… (512000 bytes) is longer than 128 characters`},
		{"tech at its bound", "tech", strings.Repeat("T", 16), ""},
		{"tech over its bound", "tech", strings.Repeat("T", 17), `"TTTTTTTTTTTTTTTTT" is longer than 16 characters`},
		{"agent at its bound in characters", "agent", strings.Repeat("ñ", 64), ""},
		{"agent over its bound", "agent", strings.Repeat("a", 65), `"` + strings.Repeat("a", 48) + `"… (65 bytes) is longer than 64 characters`},
		{"context over its bound", "context", strings.Repeat("c", 65), `"` + strings.Repeat("c", 48) + `"… (65 bytes) is longer than 64 characters`},
		{"outqueue at its bound", "outqueue", strings.Repeat("q", 128), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := `{"v":"` + jsonEscape(tt.value) + `"}`
			m := mustCompile(t, Spec{Source: "s", Rules: map[string]any{tt.field: "v"}, Defaults: full})
			r, err := mapBoth(t, m, &Event{Record: []byte(rec)})
			if got := fieldError(t, err, tt.field); got != tt.err {
				t.Fatalf("%s error = %q\nwant          %q", tt.field, got, tt.err)
			}
			if tt.err != "" {
				if r.Params.Get(tt.field) != "" {
					t.Errorf("%s set to %q despite the error", tt.field, r.Params.Get(tt.field))
				}
				for _, d := range r.Decisions {
					if len(d) > 200 || strings.ContainsAny(d, "\r\n\x00") {
						t.Errorf("decision not quoted or not cut: %q", d[:min(len(d), 200)])
					}
				}
				return
			}
			if got, want := r.Params.Get(tt.field), strings.TrimSpace(tt.value); got != want {
				t.Errorf("%s = %q, want %q", tt.field, got, want)
			}
		})
	}
}

// jsonEscape writes s as the inside of a JSON string, keeping invalid UTF-8
// bytes as they are (a CRM may send them).
func jsonEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Constants, defaults and routes are held to the same rules at start-up,
// naming the key.
func TestCompileRejectsBadConstants(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string // one line of the error
	}{
		{"callerid default with letters", Spec{Defaults: ucontact.Params{CallerID: "0800-CALL-US"}},
			`defaults.callerid: "0800-CALL-US" has letters; ` + syntax},
		{"callerid default with a bidi override", Spec{GlobalDefaults: ucontact.Params{CallerID: "\u202e100"}},
			`global defaults.callerid: "\u202e100" has a character that is not allowed (U+202E '\u202e' at character 1); ` + syntax},
		{"callerid constant written as a float", Spec{Rules: map[string]any{"callerid": map[string]any{"value": 5.9829001234e10}}},
			`mapping.callerid: "59829001234" was written as a number with a fraction or exponent; write the phone number in quotes`},
		{"callerid constant too long", Spec{Rules: map[string]any{"callerid": map[string]any{"value": strings.Repeat("1", 33)}}},
			`mapping.callerid: "111111111111111111111111111111111" is longer than 32 characters`},
		{"phone default with letters", Spec{Defaults: ucontact.Params{Phone: "ext-1001"}},
			`defaults.phone: "ext-1001" has letters; ` + syntax},
		{"phone constant with LF", Spec{Rules: map[string]any{"phone": map[string]any{"value": "1001\n1002"}}},
			`mapping.phone: "1001\n1002" has a character that is not allowed (U+000A '\n' at character 5); ` + syntax},
		{"phone constant negative", Spec{Rules: map[string]any{"phone": map[string]any{"value": -1001}}},
			`mapping.phone: "-1001" was written as a negative number; write the phone number in quotes`},
		{"destination constant written as a float", Spec{Region: "UY", Rules: map[string]any{"destination": map[string]any{"value": 59899123456.0}}},
			`mapping.destination: "59899123456" was written as a number with a fraction or exponent; write the phone number in quotes`},
		{"destination default not valid", Spec{Region: "UY", Defaults: ucontact.Params{Destination: "01 234 567"}},
			`defaults.destination: "01 234 567" is not a valid UY number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway`},
		{"destination default with letters", Spec{Region: "UY", Defaults: ucontact.Params{Destination: "099-CALL-NOW"}},
			`defaults.destination: "099-CALL-NOW" has letters; ` + syntax + `; set phone.allow_letters: true to read keypad letters such as 1-800-FLOWERS`},
		{"context default with CR LF", Spec{Defaults: ucontact.Params{Context: "agentes\r\nx"}},
			`defaults.context: "agentes\r\nx" has a control or formatting character (U+000D '\r' at character 8)`},
		{"outqueue global default with NUL", Spec{GlobalDefaults: ucontact.Params{OutQueue: "Ventas\x00"}},
			`global defaults.outqueue: "Ventas\x00" has a control or formatting character (U+0000 '\x00' at character 7)`},
		{"tech constant too long", Spec{Rules: map[string]any{"tech": map[string]any{"value": "SIPSIPSIPSIPSIPSIP"}}},
			`mapping.tech: "SIPSIPSIPSIPSIPSIP" is longer than 16 characters`},
		{"agent constant invalid UTF-8", Spec{Rules: map[string]any{"agent": map[string]any{"value": "ana\xff"}}},
			`mapping.agent: "ana\xff" is not valid UTF-8`},
		{"preset constant", Spec{Preset: map[string]any{"context": map[string]any{"value": "a\tb"}}},
			`preset.context: "a\tb" has a control or formatting character (U+0009 '\t' at character 2)`},
		{"route phone with letters", Spec{Agents: Agents{Routes: map[string]Route{"7": {Agent: "ana", Phone: "ext 12"}}}},
			`agents.routes.7.phone: "ext 12" has letters; ` + syntax},
		{"route agent with LF", Spec{Agents: Agents{Routes: map[string]Route{"7": {Agent: "ana\nbob"}}}},
			`agents.routes.7.agent: "ana\nbob" has a control or formatting character (U+000A '\n' at character 4)`},
		{"fallback phone too long", Spec{Agents: Agents{Fallback: &Route{Agent: "q", Phone: strings.Repeat("1", 40)}}},
			`agents.fallback.phone: "1111111111111111111111111111111111111111" is longer than 32 characters`},
		{"prefix with letters", Spec{Phone: PhoneOptions{Prefix: "9a"}},
			`phone.prefix: "9a" must be digits only, at most 16 (e.g. "9")`},
		{"prefix too long", Spec{Phone: PhoneOptions{Prefix: strings.Repeat("9", 17)}},
			`phone.prefix: "99999999999999999" must be digits only, at most 16 (e.g. "9")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Source = "s"
			_, err := Compile(tt.spec)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CompileError", err)
			}
			want := `source "s": ` + tt.want
			if !strings.Contains("\n"+err.Error()+"\n", "\n"+want+"\n") {
				t.Errorf("error\n%s\nwant a line\n%s", err, want)
			}
		})
	}
}

// What the old rules accepted and still must: a fixed caller id is sent as
// written, separators and all; the README's sample configuration compiles.
func TestCompileAcceptsUsualConstants(t *testing.T) {
	spec := Spec{
		Source:         "s",
		Rules:          map[string]any{"callerid": map[string]any{"value": "0800 1234"}, "outqueue": map[string]any{"value": "Ventas->"}, "phone": map[string]any{"value": 1001}},
		Defaults:       ucontact.Params{Context: "agentes", Destination: "+598 99 123 456"},
		GlobalDefaults: ucontact.Params{CallerID: "59821234567", Agent: "queue", Tech: "SIP", Context: "agentes", OutQueue: "Ventas->"},
		Region:         "UY",
		Phone:          PhoneOptions{Prefix: "9"},
		Agents: Agents{Routes: map[string]Route{"71234567": {Agent: "ana", Phone: "1001"}, "bruno@example.com": {Agent: "bruno", Phone: "+1002"}},
			Fallback: &Route{Agent: "queue", Phone: "1000"}},
	}
	r, err := mustCompile(t, spec).Map(&Event{Record: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := ucontact.Params{CallerID: "0800 1234", Agent: "queue", Phone: "1001", Tech: "SIP", Context: "agentes", OutQueue: "Ventas->", Destination: "959899123456"}
	if r.Params != want {
		t.Errorf("params = %+v, want %+v", r.Params, want)
	}
}

func TestMaxLenTables(t *testing.T) {
	if len(MaxLen) != len(ucontact.Names) {
		t.Fatalf("MaxLen has %d entries", len(MaxLen))
	}
	for i, n := range ucontact.Names {
		if keyNames[i] != n || MaxLen[n] != maxLen[i] || maxLen[i] == 0 {
			t.Errorf("%s: MaxLen %d, maxLen[%d] %d", n, MaxLen[n], i, maxLen[i])
		}
	}
}

// An owner from the record is quoted in the agent's error, so a control
// character or a huge value cannot pass through it either.
func TestOwnerQuotedInErrors(t *testing.T) {
	m := mustCompile(t, Spec{Source: "s", Rules: map[string]any{"owner": "o"}, Defaults: full, Agents: Agents{Routes: map[string]Route{"7": {Agent: "ana"}}}})
	full := full
	full.Agent = ""
	_, err := mapBoth(t, m, &Event{Record: []byte(`{"o":"7\r\nX: y"}`)})
	if got, want := fieldError(t, err, "agent"), `owner "7\r\nX: y" has no route and there is no fallback`; got != want {
		t.Errorf("agent error = %q, want %q", got, want)
	}
}
