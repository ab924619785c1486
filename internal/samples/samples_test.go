package samples

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The signers against vectors from outside this project: the vendors'
// published examples, and for the samples, values computed with Python's
// hmac/hashlib (crm's tests hold the same HubSpot ones).
func TestSigners(t *testing.T) {
	const docSecret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy" // HubSpot's docs and SDK
	sdkBody := []byte(`{'example_field':'example_value'}`)
	contact, batch := Body(HubSpotWorkflowContact), Body(HubSpotSubscriptionBatch)
	cases := []struct{ name, got, want string }{
		// https://developers.hubspot.com/docs/faq/v1-request-validation
		{"hubspot v1 docs", HubSpotV1(docSecret, []byte(`[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`)),
			"232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"},
		// https://developers.hubspot.com/docs/faq/v2-request-validation
		{"hubspot v2 docs GET", HubSpotV2(docSecret, http.MethodGet, "https://www.example.com/webhook_uri", nil),
			"eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"},
		{"hubspot v2 docs POST", HubSpotV2(docSecret, http.MethodPost, "https://www.example.com/webhook_uri", []byte(`{"example_field":"example_value"}`)),
			"9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"},
		// https://github.com/HubSpot/hubspot-api-python/blob/master/tests/spec/utils/test_signature.py
		{"hubspot v3 SDK", HubSpotV3(docSecret, http.MethodPost, "https://www.example.com/webhook_uri", sdkBody, "15000000"),
			"HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="},
		{"hubspot v1 batch", HubSpotV1(HubSpotSecret, batch), "63f454c566a2fbd88d4b56c92d759840cac9ca6433437498cfd8dd8574f9f301"},
		{"hubspot v2 local", HubSpotV2(HubSpotSecret, http.MethodPost, "http://localhost:8080/webhooks/hubspot", contact),
			"3634e73401cfa085ee3c9b2c6dc73c15d79eb8805a72e4ef2bd0f81027f8aa80"},
		{"hubspot v3 decodes the URI", HubSpotV3(HubSpotSecret, http.MethodPost, "https://abc.ngrok-free.app/webhooks/hubspot?a=b%3Ac&x=%2F", contact, "1795608000000"),
			"9gkwtmeFHrUNOciSNkKn1BTy9dKYOGYVbbaS9A7966o="},
		// https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/go/webhook_test.go (TestWebhookSign)
		{"standard reference", StandardSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`)),
			"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"standard secret without prefix", StandardSignature(strings.TrimPrefix(StandardSecret, "whsec_"), "msg_1", "1795608000", Body(StandardCall)),
			"v1,QWo4Zo5tihrF81+sA7b7fojJaS2NayMqjYI+EVSv028="},
		{"close", CloseSignature(CloseKey, "1795608000", Body(CloseLeadCreated)), "4c896d2f098ac34ef3de6377650e7bf1fb9dd852f18646f45809f8c4490792c3"},
		{"pipedrive basic", BasicAuth(PipedriveUser, PipedrivePassword), "Basic ZGlhbGhvb2s6cGQtcGFzcy01Njc4"},
		{"dynamics code", DynamicsCode("a b&c"), "code=a+b%26c"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestBody(t *testing.T) {
	names := []string{SalesforceOutboundLead, HubSpotWorkflowContact, HubSpotSubscriptionBatch, PipedriveV1Person,
		PipedriveV2Person, PipedriveV2Delete, ZohoLeadJSON, ZohoLeadForm, DynamicsLeadCreate, DynamicsDocsContactUpdate,
		CloseLeadCreated, StandardCall, GenericCall}
	slices.Sort(names)
	if got := Names(); !slices.Equal(got, names) {
		t.Errorf("Names() = %v, want the constants %v", got, names)
	}
	for _, n := range names {
		if len(Body(n)) == 0 {
			t.Errorf("%s is empty", n)
		}
	}
	b := Body(GenericCall)
	b[0] = 'x'
	if Body(GenericCall)[0] != '{' {
		t.Error("a change to a returned body shows in the next one")
	}
	for _, tokenIn := range []string{ZohoLeadJSON, ZohoLeadForm} {
		if !bytes.Contains(Body(tokenIn), []byte(ZohoToken)) || bytes.Contains(ZohoWithoutToken(tokenIn), []byte("token")) {
			t.Errorf("%s: the token is not in the sample or stays in ZohoWithoutToken", tokenIn)
		}
	}
	if !bytes.Contains(Body(SalesforceOutboundLead), []byte("<OrganizationId>"+SalesforceOrgID+"<")) {
		t.Error("SalesforceOrgID is not the sample's organization")
	}
	for _, f := range []func(){func() { Body("nope.json") }, func() { ZohoWithoutToken(GenericCall) }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic for a sample that does not exist or fit")
				}
			}()
			f()
		}()
	}
}

func TestSalesforceBody(t *testing.T) {
	body := SalesforceBody(SalesforceOrgID, SalesforceLead("04l1", "00Q1", "099"), SalesforceLead("04l2", "00Q2", ""),
		SalesforceContact("04l3", "003A", "1"))
	d := xml.NewDecoder(bytes.NewReader(body))
	var notes, nilPhones, owners int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, body)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "Notification":
				notes++
			case "OwnerId":
				owners++
			case "Phone":
				if len(se.Attr) == 1 && se.Attr[0].Value == "true" {
					nilPhones++
				}
			}
		}
	}
	if notes != 3 || nilPhones != 1 || owners != 2 {
		t.Errorf("%d notifications, %d nil phones, %d owners; want 3, 1, 2", notes, nilPhones, owners)
	}
	if !bytes.Contains(body, []byte(`xsi:type="sf:Contact"`)) || bytes.Count(body, []byte(`xsi:type="sf:Lead"`)) != 2 {
		t.Errorf("object types wrong: %s", body)
	}
}

func TestAgentRoutes(t *testing.T) {
	type route struct{ agent, phone string }
	r := AgentRoutes(func(a string) route { return route{a, a} })
	if len(r) != 7 || r["0055g00000Ab1CdAAJ"] != (route{"1001", "1001"}) || r["ana@example.com"] != (route{"1007", "1007"}) {
		t.Errorf("routes %v", r)
	}
	delete(r, "ana@example.com")
	if _, ok := AgentRoutes(func(a string) string { return a })["ana@example.com"]; !ok {
		t.Error("AgentRoutes shares its map")
	}
}
