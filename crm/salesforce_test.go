package crm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"dialhook/internal/samples"
)

// sfOutbound is an outbound message from samples.SalesforceOrgID.
func sfOutbound(notes ...string) []byte {
	return samples.SalesforceBody(samples.SalesforceOrgID, notes...)
}

// sfNote is a Contact notification (without owner).
func sfNote(id, recordID, phone string) string { return samples.SalesforceContact(id, recordID, phone) }

func sfRequest(body []byte) *Request {
	return post("/webhooks/sf", body, "Content-Type", "text/xml; charset=UTF-8", "SOAPAction", `""`)
}

func TestSalesforceAuthenticate(t *testing.T) {
	a := mustNew(t, Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{"00D000000000001", samples.SalesforceOrgID}})
	a15 := mustNew(t, Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{"00D5g000004XyZa"}})
	runAuth(t, a, []authCase{
		{"sample", sfRequest(samples.Body(samples.SalesforceOutboundLead)), nil, ""},
		{"other prefixes", sfRequest(sfOutbound(sfNote("04l1", "003A", "1"))), nil, ""},
		{"org not allowed", sfRequest(samples.SalesforceBody("00D5g000004XyZbEAK", sfNote("04l1", "003A", "1"))), ErrUnauthenticated, "org id not allowed"},
		{"15-char part differs in case", sfRequest(samples.SalesforceBody("00d5g000004XyZaEAK", sfNote("04l1", "003A", "1"))), ErrUnauthenticated, "org id not allowed"},
		{"org id not an id", sfRequest(samples.SalesforceBody("00D5g000004XyZa<x/>", sfNote("04l1", "003A", "1"))), ErrMalformed, ""},
		{"short org id", sfRequest(samples.SalesforceBody("00D5g", sfNote("04l1", "003A", "1"))), ErrUnauthenticated, "org id not allowed"},
		{"no org id", sfRequest([]byte(`<Envelope><Body><notifications></notifications></Body></Envelope>`)), ErrUnauthenticated, "missing organization id"},
		{"not XML", sfRequest([]byte(`{"OrganizationId":"` + samples.SalesforceOrgID + `"}`)), ErrMalformed, ""},
		{"truncated", sfRequest(samples.Body(samples.SalesforceOutboundLead)[:200]), ErrMalformed, ""},
		{"DTD", sfRequest([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><Envelope/>`)), ErrMalformed, ""},
		{"org id outside notifications", sfRequest([]byte(`<Envelope><Body><OrganizationId>` + samples.SalesforceOrgID + `</OrganizationId></Body></Envelope>`)), ErrMalformed, ""},
	}, samples.SalesforceOrgID, "00D000000000001")
	runAuth(t, a15, []authCase{
		{"15-char config accepts 18-char id", sfRequest(samples.Body(samples.SalesforceOutboundLead)), nil, ""},
	})
}

func TestSalesforceParse(t *testing.T) {
	a := mustNew(t, Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{samples.SalesforceOrgID}})

	t.Run("sample", func(t *testing.T) {
		ev := one(t, mustParse(t, a, sfRequest(samples.Body(samples.SalesforceOutboundLead))))
		wantEvent(t, ev, "04l5g00000KQxYzAAL", "Lead", "00Q5g00000AbCdEEAZ", "")
		for k, want := range map[string]string{
			"Phone": `"+598 2 901 2345"`, "OwnerId": `"0055g00000Ab1CdAAJ"`, "FirstName": `"Lucia"`,
			"Status": `"Working - Contacted"`, "Id": `"00Q5g00000AbCdEEAZ"`, "SessionId": "",
		} {
			if got := field(t, ev, k); got != want {
				t.Errorf("record[%s] = %s, want %s", k, got, want)
			}
		}
		if ev.Source != "sf" {
			t.Errorf("source %q", ev.Source)
		}
	})

	t.Run("nil field", func(t *testing.T) {
		ev := one(t, mustParse(t, a, sfRequest(sfOutbound(sfNote("04l1", "003A", "099")))))
		if got := field(t, ev, "MobilePhone"); got != "null" {
			t.Errorf("MobilePhone = %s, want null", got)
		}
		wantEvent(t, ev, "04l1", "Contact", "003A", "")
	})

	t.Run("duplicate inside batch", func(t *testing.T) {
		b := mustParse(t, a, sfRequest(sfOutbound(sfNote("04l1", "003A", "1"), sfNote("04l2", "003B", "2"), sfNote("04l1", "003A", "1"))))
		if len(b.Events) != 3 {
			t.Fatalf("got %d events, want 3", len(b.Events))
		}
		if b.Events[0].DedupKey != b.Events[2].DedupKey || b.Events[0].BodyHash != b.Events[2].BodyHash {
			t.Error("the repeated notification has another dedup key or hash")
		}
		if b.Events[0].BodyHash == b.Events[1].BodyHash {
			t.Error("different notifications share a body hash")
		}
	})

	t.Run("redelivery", func(t *testing.T) {
		body := samples.Body(samples.SalesforceOutboundLead)
		e1 := one(t, mustParse(t, a, sfRequest(body)))
		e2 := one(t, mustParse(t, a, sfRequest(body)))
		if e1.DedupKey != e2.DedupKey || e1.BodyHash != e2.BodyHash {
			t.Error("redelivery changed the dedup key")
		}
	})

	t.Run("compound field", func(t *testing.T) {
		note := `<o:Notification><o:Id>04l9</o:Id><o:sObject xsi:type="sf:Account" xmlns:sf="urn:x">` +
			`<sf:BillingAddress><sf:city>Montevideo</sf:city><sf:country>UY</sf:country></sf:BillingAddress></o:sObject></o:Notification>`
		ev := one(t, mustParse(t, a, sfRequest(sfOutbound(note))))
		if got := field(t, ev, "BillingAddress"); got != `{"city":"Montevideo","country":"UY"}` {
			t.Errorf("BillingAddress = %s", got)
		}
	})

	many := make([]string, 101)
	for i := range many {
		many[i] = sfNote(fmt.Sprintf("04l%d", i), "003A", "1")
	}
	deep := sfNote("04l1", "003A", strings.Repeat("<a>", 40)+"x"+strings.Repeat("</a>", 40))
	for _, c := range []struct{ name, body string }{
		{"no notifications", string(sfOutbound())},
		{"101 notifications", string(sfOutbound(many...))},
		{"notification without sObject", string(sfOutbound(`<o:Notification><o:Id>04l1</o:Id></o:Notification>`))},
		{"notification without id", string(sfOutbound(`<o:Notification><o:sObject/></o:Notification>`))},
		{"too deep", string(sfOutbound(deep))},
		{"two org ids", strings.Replace(string(sfOutbound(sfNote("04l1", "003A", "1"))), "<o:ActionId>", "<o:OrganizationId>00D000000000002AAA</o:OrganizationId><o:ActionId>", 1)},
		{"trailing garbage", string(sfOutbound(sfNote("04l1", "003A", "1"))) + "<x>"},
		{"no notifications element", `<Envelope><Body/></Envelope>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(sfRequest([]byte(c.body)))
			checkErr(t, err, ErrMalformed)
		})
	}
	t.Run("100 notifications", func(t *testing.T) {
		b := mustParse(t, a, sfRequest(sfOutbound(many[:100]...)))
		if len(b.Events) != 100 {
			t.Errorf("got %d events", len(b.Events))
		}
	})
}

// A body the XML parser rejects is answered with the parser's message, the
// line and the byte offset where it stopped, as truncated JSON is.
func TestSalesforceInvalidXMLSaysWhere(t *testing.T) {
	a := mustNew(t, Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{samples.SalesforceOrgID}})
	full := samples.Body(samples.SalesforceOutboundLead)
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"truncated", full[:len(full)-20], fmt.Sprintf("invalid XML: unexpected EOF on line %d (at byte %d of %d)",
			strings.Count(string(full[:len(full)-20]), "\n")+1, len(full)-20, len(full)-20)},
		{"mismatched tag", []byte("<Envelope>\n<Body></Bdy>\n</Envelope>"),
			"invalid XML: element <Body> closed by </Bdy> on line 2 (at byte 23 of 35)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(sfRequest(c.body))
			var me *MalformedError
			if !errors.As(err, &me) || me.Msg != c.want {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func FuzzSalesforce(f *testing.F) {
	f.Add(samples.Body(samples.SalesforceOutboundLead))
	f.Add(sfOutbound(sfNote("04l1", "003A", "1"), sfNote("04l1", "003A", "1")))
	f.Add([]byte(`<Envelope><Body><notifications><OrganizationId>` + samples.SalesforceOrgID + `</OrganizationId></notifications></Body></Envelope>`))
	a := mustNew(f, Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{samples.SalesforceOrgID}})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := sfRequest(body)
		if err := a.Authenticate(r); err != nil {
			return
		}
		b, err := a.Parse(r)
		if err != nil {
			return
		}
		if n := len(b.Events); n < 1 || n > sfMaxNotifications {
			t.Fatalf("%d events", n)
		}
		for _, ev := range b.Events {
			if ev.DedupKey == "" {
				t.Fatal("event without dedup key")
			}
		}
	})
}
