package crm

import (
	"testing"

	"dialhook/internal/samples"
)

func TestBodyHashQuery(t *testing.T) {
	body := []byte(`{"a":1}`)
	creds := func(k string) bool { return k == "token" || k == "tenant" }
	h := func(target string) string { return bodyHash(post(target, body), body, creds) }
	for _, c := range []struct {
		name string
		a, b string
		same bool
	}{
		{"no query is the body hash", "/w", "/w?", true},
		{"different parameter value", "/w?lead=1", "/w?lead=2", false},
		{"parameter or not", "/w", "/w?lead=1", false},
		{"order of parameters", "/w?lead=1&x=2", "/w?x=2&lead=1", true},
		{"order of repeated values", "/w?x=1&x=2", "/w?x=2&x=1", true},
		{"own parameters left out", "/w?lead=1", "/w?lead=1&wait=5s&dry_run=true&token=t", true},
		{"only the kind's credentials are left out", "/w?lead=1", "/w?lead=1&code=c", false},
		{"credential parameters left out", "/w?lead=1", "/w?tenant=other&lead=1", true},
		{"escaping", "/w?name=a%20b", "/w?name=a+b", true},
		{"key and value boundaries", "/w?a=b%26c%3Dd", "/w?a=b&c=d", false},
		{"unparsable query still counts", "/w?x=%zz", "/w?x=%zy", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := h(c.a) == h(c.b); got != c.same {
				t.Errorf("hash(%s) == hash(%s) is %v, want %v", c.a, c.b, got, c.same)
			}
		})
	}
	if h("/w?wait=1") != hashHex(body) {
		t.Error("with only own parameters the hash must be the body's, as before")
	}
	if got, want := h("/w?x=2&lead=1"), queryHash("lead=1&x=2", body); got != want {
		t.Errorf("hash = %s, want %s", got, want)
	}
}

// TestBodyHashCoversQueryEveryKind: every kind's BodyHash (per element for
// HubSpot batches and Salesforce notifications) depends on the URL query
// parameters, not on their order, and not on dialhook's own ones.
func TestBodyHashCoversQueryEveryKind(t *testing.T) {
	bodies := map[string][]byte{
		"generic":    samples.Body(samples.GenericCall),
		"standard":   samples.Body(samples.StandardCall),
		"close":      samples.Body(samples.CloseLeadCreated),
		"hubspot":    samples.Body(samples.HubSpotSubscriptionBatch),
		"pipedrive":  samples.Body(samples.PipedriveV2Person),
		"salesforce": samples.Body(samples.SalesforceOutboundLead),
		"zoho":       samples.Body(samples.ZohoLeadJSON),
		"dynamics":   samples.Body(samples.DynamicsLeadCreate),
	}
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			a := mustNew(t, Config{Name: "s", Kind: kind, AllowUnauthenticated: true,
				AuthQuery: map[string]string{"tenant": "q-secret"}})
			hashes := func(target string) []string {
				b, err := a.Parse(post(target, bodies[kind], "x-request-id", "r1"))
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, ev := range b.Events {
					out = append(out, ev.BodyHash)
				}
				return out
			}
			one := hashes("/w?lead=1&x=2")
			two := hashes("/w?lead=2&x=2")
			// Each kind leaves out only its own credentials: ?token= for
			// generic and zoho, ?code= and auth_query keys for dynamics.
			own := "&wait=5s&dry_run=true"
			switch kind {
			case "generic", "zoho":
				own += "&token=t"
			case "dynamics":
				own += "&code=c"
			}
			swapped := hashes("/w?x=2&lead=1" + own)
			for i := range one {
				if one[i] == two[i] {
					t.Errorf("event %d: ?lead=1 and ?lead=2 share body hash %s", i, one[i])
				}
				if one[i] != swapped[i] {
					t.Errorf("event %d: reordered query or own parameters changed the hash", i)
				}
			}
			if kind == "dynamics" {
				if hashes("/w?lead=1&x=2&tenant=rotated")[0] != one[0] {
					t.Error("an auth_query credential changed the hash")
				}
			}
		})
	}
}
