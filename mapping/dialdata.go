package mapping

import (
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// DataTemplate is a source's dial.data: the text handed to uContact with a
// call (DialerTask's data, AgentCallwithData's data) so that the agent's
// screen can open the CRM record, e.g. "crm={kind}&id={record_id}".
//
// A placeholder is a name in single braces: {kind}, {object_type},
// {record_id}, {source}, {event_id}, {destination}, or {record.PATH} for a
// field of the CRM record (the same paths as mapping rules). Every value
// is query-escaped (as url.QueryEscape does), so a value can never add a key of
// its own or close a brace; {{ and }} are literal braces (for JSON data).
type DataTemplate struct {
	text  string
	parts []dataPart
}

type dataPart struct {
	lit  string // literal text, when name is ""
	name string // a placeholder name, or "record" with path
	path string
}

// DataNames are the placeholders of a data template, record paths aside.
var DataNames = []string{"kind", "object_type", "record_id", "source", "event_id", "destination"}

// DestinationPlaceholder is left in rendered data when the number is not
// known yet (it is fetched before the call): FillDestination sets it then.
const DestinationPlaceholder = "{destination}"

// DataValues are what a template's placeholders stand for.
type DataValues struct {
	Kind, ObjectType, RecordID, Source, EventID, Destination string
	Record                                                   []byte // the record, for {record.PATH}
}

// ParseData compiles a data template; the error names the first unknown
// placeholder, bad path or unbalanced brace.
func ParseData(text string) (*DataTemplate, error) {
	t := &DataTemplate{text: text}
	var lit strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case (c == '{' || c == '}') && i+1 < len(text) && text[i+1] == c:
			lit.WriteByte(c)
			i++
		case c == '}':
			return nil, fmt.Errorf("%q: a lone \"}\" at offset %d (write }} for a literal brace)", text, i)
		case c == '{':
			j := strings.IndexByte(text[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("%q: unterminated \"{\" at offset %d (write {{ for a literal brace)", text, i)
			}
			p, err := dataPlaceholder(text[i+1 : i+j])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", text, err)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, dataPart{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, p)
			i += j
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, dataPart{lit: lit.String()})
	}
	return t, nil
}

func dataPlaceholder(name string) (dataPart, error) {
	if path, ok := strings.CutPrefix(name, "record."); ok {
		if err := checkPath(path); err != nil {
			return dataPart{}, fmt.Errorf("{%s}: %w", name, err)
		}
		return dataPart{name: "record", path: path}, nil
	}
	for _, n := range DataNames {
		if n == name {
			return dataPart{name: name}, nil
		}
	}
	return dataPart{}, fmt.Errorf("unknown placeholder {%s} (known: {%s}, or {record.PATH} for a field of the record)",
		name, strings.Join(DataNames, "}, {"))
}

// String is the template as configured.
func (t *DataTemplate) String() string { return t.text }

// Render fills the placeholders. An empty Destination leaves
// {destination} in the text for FillDestination.
func (t *DataTemplate) Render(v DataValues) string {
	var b strings.Builder
	for _, p := range t.parts {
		var val string
		switch p.name {
		case "":
			b.WriteString(p.lit)
			continue
		case "kind":
			val = v.Kind
		case "object_type":
			val = v.ObjectType
		case "record_id":
			val = v.RecordID
		case "source":
			val = v.Source
		case "event_id":
			val = v.EventID
		case "destination":
			if v.Destination == "" {
				b.WriteString(DestinationPlaceholder)
				continue
			}
			val = v.Destination
		case "record":
			val = resultString(gjson.GetBytes(v.Record, p.path))
		}
		b.WriteString(queryEscape(val))
	}
	return b.String()
}

// FillDestination sets the {destination} a render left for the number
// dialed. No escaped value can spell it: QueryEscape escapes braces.
func FillDestination(data, destination string) string {
	if !strings.Contains(data, DestinationPlaceholder) {
		return data
	}
	return strings.ReplaceAll(data, DestinationPlaceholder, queryEscape(destination))
}

// CheckPath reports a record path that is certainly a mistake (see the
// mapping rules' paths), for settings that name paths.
func CheckPath(p string) error { return checkPath(p) }

// AlternativesSep joins several alternative numbers in DialerTask's one
// "alternatives" string. uContact documents the key for one number; how
// it reads several is unconfirmed (see docs/calling-rules.md).
const AlternativesSep = ","

// Alternatives reads the numbers at paths in the record (a path may hold
// a list), normalized as the destination is, without repeats or the
// destination itself, joined with AlternativesSep. A value that is no
// number is left out with a warning: the lead is still dialed.
func (m *Mapper) Alternatives(ev *Event, paths []string, destination string) (string, []string) {
	var nums, warns []string
	seen := map[string]bool{destination: true}
	add := func(raw string) {
		if raw == "" {
			return
		}
		n, err := m.Phone(raw)
		switch {
		case err != nil:
			warns = append(warns, "alternatives: "+err.Error()+"; left out")
		case !seen[n]:
			seen[n] = true
			nums = append(nums, n)
		}
	}
	for _, p := range paths {
		r := gjson.GetBytes(ev.Record, p)
		if r.IsArray() {
			for _, item := range r.Array() {
				add(resultString(item))
			}
			continue
		}
		add(resultString(r))
	}
	return strings.Join(nums, AlternativesSep), warns
}

// queryEscape is url.QueryEscape (mapping imports no net package): letters,
// digits and -_.~ stay, a space is +, any other byte is %XX.
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
