package crm

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"dialhook/mapping"
)

// Bounds on what a Salesforce message may hold, so a hostile body cannot make
// the parser allocate without limit (the handler also caps the body size).
const (
	sfMaxNotifications = 100
	sfMaxDepth         = 32   // element nesting, envelope included
	sfMaxFields        = 2000 // elements inside one sObject, nested ones included
)

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

type salesforceAdapter struct{ base }

// newSalesforce checks a salesforce source's organization ids.
func newSalesforce(cfg Config, need bool, bad problemf) Adapter {
	if len(cfg.OrgIDs) == 0 && need {
		bad("kind salesforce needs org_ids (your 15 or 18 character Salesforce organization ids)")
	}
	for _, id := range cfg.OrgIDs {
		if !validOrgID(id) {
			bad("kind salesforce: org_ids entry %q is not a 15 or 18 character alphanumeric id", id)
		}
	}
	return &salesforceAdapter{base{cfg, Dialect{SOAP: true, RejectStatus: 200}}}
}

func (a *salesforceAdapter) Preset() map[string]any {
	return map[string]any{
		"destination": []any{"Phone", "MobilePhone"},
		"owner":       "OwnerId",
		"id":          "Id",
	}
}

// Authenticate checks OrganizationId against the allow-list. Salesforce sends
// the 18-character id; ids compare on their case-sensitive 15-character part.
func (a *salesforceAdapter) Authenticate(r *Request) error {
	if len(a.cfg.OrgIDs) == 0 && a.cfg.AllowUnauthenticated {
		return nil
	}
	msg, err := decodeSalesforce(r.Body, true)
	if err != nil {
		return err
	}
	got := msg.orgID
	if got == "" {
		return authErr("missing organization id")
	}
	if !validOrgID(got) {
		return authErr("org id not allowed")
	}
	ok := 0
	for _, id := range a.cfg.OrgIDs {
		if len(id) >= 15 {
			ok |= boolInt(equalConst(got[:15], id[:15]))
		}
	}
	if ok == 0 {
		return authErr("org id not allowed")
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Scheme implements Adapter.
func (a *salesforceAdapter) Scheme(*Request) string {
	return "Salesforce OrganizationId allow-list (org_ids)"
}

func (a *salesforceAdapter) Parse(r *Request) (*Batch, error) {
	msg, err := decodeSalesforce(r.Body, false)
	if err != nil {
		return nil, err
	}
	if len(msg.notes) == 0 {
		return nil, malformed("notifications holds no Notification")
	}
	b := &Batch{Events: make([]mapping.Event, 0, len(msg.notes))}
	for _, n := range msg.notes {
		rec, err := json.Marshal(n.fields)
		if err != nil {
			return nil, malformed("sObject cannot be converted to JSON")
		}
		ev := newEvent(&a.cfg, r, rec, bodyHash(r, n.raw, nil))
		ev.DedupKey = n.id
		ev.ObjectType = n.objectType
		if id, ok := n.fields["Id"].(string); ok {
			ev.RecordID = id
		}
		b.Events = append(b.Events, ev)
	}
	return b, nil
}

type sfMessage struct {
	orgID string
	notes []sfNotification
}

type sfNotification struct {
	id         string
	objectType string
	fields     map[string]any
	raw        []byte // the Notification element as received, for BodyHash
}

// decodeSalesforce reads a SOAP outbound message by local names (prefixes
// vary). With orgOnly it stops at OrganizationId, which is all Authenticate
// needs and trusts. Every failure is a *MalformedError.
func decodeSalesforce(body []byte, orgOnly bool) (*sfMessage, error) {
	p := &sfParser{d: xml.NewDecoder(bytes.NewReader(body)), body: body}
	p.d.Strict = true
	msg := &sfMessage{}
	err := p.message(msg, orgOnly)
	if err != nil {
		var me *MalformedError
		if errors.As(err, &me) {
			return nil, err
		}
		return nil, invalidXML(err, p.d.InputOffset(), len(body))
	}
	return msg, nil
}

// invalidXML says where the XML parser stopped, as checkJSON does for JSON:
// the line and the byte offset, out of the body's length.
func invalidXML(err error, offset int64, size int) error {
	msg := err.Error()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		msg = fmt.Sprintf("%s on line %d", se.Msg, se.Line)
	}
	return malformed(fmt.Sprintf("invalid XML: %s (at byte %d of %d)", msg, offset, size))
}

type sfParser struct {
	d        *xml.Decoder
	body     []byte
	depth    int
	tokStart int64 // offset where the token next returned begins
}

var errOrgFound = errors.New("organization id found")

// next returns the next start or end element, skipping text, comments and
// processing instructions outside fields, and tracks nesting depth.
func (p *sfParser) next() (xml.Token, error) {
	for {
		p.tokStart = p.d.InputOffset()
		tok, err := p.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p.depth++
			if p.depth > sfMaxDepth {
				return nil, malformed("XML nested too deeply")
			}
			return t, nil
		case xml.EndElement:
			p.depth--
			return t, nil
		case xml.Directive:
			return nil, malformed("XML directives (DTDs) are not accepted")
		}
	}
}

func (p *sfParser) skip() error {
	err := p.d.Skip()
	p.depth--
	return err
}

func (p *sfParser) message(msg *sfMessage, orgOnly bool) error {
	seenEnvelope := false
	for {
		tok, err := p.next()
		if err == io.EOF {
			if !seenEnvelope {
				return malformed("no SOAP Envelope")
			}
			return nil // without OrganizationId, Authenticate refuses
		}
		if err != nil {
			return err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name.Local != "Envelope" || seenEnvelope {
			return malformed("root element must be a SOAP Envelope")
		}
		seenEnvelope = true
		if err := p.envelope(msg, orgOnly); err != nil {
			if err == errOrgFound {
				return nil
			}
			return err
		}
	}
}

func (p *sfParser) envelope(msg *sfMessage, orgOnly bool) error {
	seenNotifications := false
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			if !seenNotifications {
				return malformed("no notifications element in the SOAP Body")
			}
			return nil // </Envelope>
		}
		if start.Name.Local != "Body" {
			if err := p.skip(); err != nil {
				return err
			}
			continue
		}
		for {
			tok, err := p.next()
			if err != nil {
				return err
			}
			s, ok := tok.(xml.StartElement)
			if !ok {
				break // </Body>
			}
			if s.Name.Local != "notifications" {
				if err := p.skip(); err != nil {
					return err
				}
				continue
			}
			if seenNotifications {
				return malformed("more than one notifications element")
			}
			seenNotifications = true
			if err := p.notifications(msg, orgOnly); err != nil {
				return err
			}
		}
	}
}

func (p *sfParser) notifications(msg *sfMessage, orgOnly bool) error {
	seenOrg := false
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		start := p.tokStart
		s, ok := tok.(xml.StartElement)
		if !ok {
			return nil // </notifications>
		}
		switch s.Name.Local {
		case "OrganizationId":
			if seenOrg {
				return malformed("more than one OrganizationId")
			}
			seenOrg = true
			if msg.orgID, err = p.text(); err != nil {
				return err
			}
			msg.orgID = strings.TrimSpace(msg.orgID)
			if orgOnly {
				return errOrgFound
			}
		case "Notification":
			if orgOnly {
				if err := p.skip(); err != nil {
					return err
				}
				continue
			}
			if len(msg.notes) == sfMaxNotifications {
				return malformed(fmt.Sprintf("more than %d notifications", sfMaxNotifications))
			}
			n, err := p.notification()
			if err != nil {
				return err
			}
			n.raw = p.body[start:p.d.InputOffset()]
			msg.notes = append(msg.notes, n)
		default:
			if err := p.skip(); err != nil {
				return err
			}
		}
	}
}

func (p *sfParser) notification() (sfNotification, error) {
	var n sfNotification
	seenObject := false
	for {
		tok, err := p.next()
		if err != nil {
			return n, err
		}
		s, ok := tok.(xml.StartElement)
		if !ok {
			if n.id == "" || !seenObject {
				return n, malformed("Notification needs an Id and an sObject")
			}
			return n, nil
		}
		switch s.Name.Local {
		case "Id":
			if n.id, err = p.text(); err != nil {
				return n, err
			}
			n.id = strings.TrimSpace(n.id)
		case "sObject":
			if seenObject {
				return n, malformed("Notification holds more than one sObject")
			}
			seenObject = true
			n.objectType = xsiType(s)
			count := 0
			v, err := p.object(&count)
			if err != nil {
				return n, err
			}
			n.fields = v
		default:
			if err := p.skip(); err != nil {
				return n, err
			}
		}
	}
}

// object reads child elements until the parent's end into an object keyed by
// local name. Leaf values are strings, xsi:nil="true" gives null.
func (p *sfParser) object(count *int) (map[string]any, error) {
	fields := map[string]any{}
	for {
		tok, err := p.next()
		if err != nil {
			return nil, err
		}
		s, ok := tok.(xml.StartElement)
		if !ok {
			return fields, nil
		}
		if *count++; *count > sfMaxFields {
			return nil, malformed(fmt.Sprintf("sObject holds more than %d fields", sfMaxFields))
		}
		v, err := p.value(s, count)
		if err != nil {
			return nil, err
		}
		fields[s.Name.Local] = v
	}
}

// value reads one field: text, null, or (for compound fields) an object.
func (p *sfParser) value(s xml.StartElement, count *int) (any, error) {
	if isNil(s) {
		return nil, p.skip()
	}
	var text strings.Builder
	for {
		tok, err := p.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			p.depth--
			return text.String(), nil
		case xml.StartElement:
			// A compound field: read the rest as an object.
			p.depth++
			if p.depth > sfMaxDepth {
				return nil, malformed("XML nested too deeply")
			}
			if *count++; *count > sfMaxFields {
				return nil, malformed(fmt.Sprintf("sObject holds more than %d fields", sfMaxFields))
			}
			first, err := p.value(t, count)
			if err != nil {
				return nil, err
			}
			rest, err := p.object(count)
			if err != nil {
				return nil, err
			}
			if _, dup := rest[t.Name.Local]; !dup {
				rest[t.Name.Local] = first
			}
			return rest, nil
		case xml.Directive:
			return nil, malformed("XML directives (DTDs) are not accepted")
		}
	}
}

// text reads an element holding only text.
func (p *sfParser) text() (string, error) {
	var text strings.Builder
	for {
		tok, err := p.d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if text.Len()+len(t) > 4096 {
				return "", malformed("text element too long")
			}
			text.Write(t)
		case xml.EndElement:
			p.depth--
			return text.String(), nil
		case xml.StartElement:
			return "", malformed(fmt.Sprintf("unexpected element %s inside a text element", t.Name.Local))
		case xml.Directive:
			return "", malformed("XML directives (DTDs) are not accepted")
		}
	}
}

func isXSI(n xml.Name, local string) bool {
	return n.Local == local && (n.Space == xsiNS || n.Space == "xsi")
}

func isNil(s xml.StartElement) bool {
	for _, a := range s.Attr {
		if isXSI(a.Name, "nil") {
			return strings.TrimSpace(a.Value) == "true" || strings.TrimSpace(a.Value) == "1"
		}
	}
	return false
}

// xsiType returns the local part of xsi:type ("sf:Lead" → "Lead").
func xsiType(s xml.StartElement) string {
	for _, a := range s.Attr {
		if isXSI(a.Name, "type") {
			v := strings.TrimSpace(a.Value)
			if i := strings.LastIndexByte(v, ':'); i >= 0 {
				v = v[i+1:]
			}
			return v
		}
	}
	return ""
}
