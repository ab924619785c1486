package crm

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"dialhook/internal/samples"
	"dialhook/mapping"
)

// effectiveKeys parses r with a and returns each event's dedup key computed
// the way handlers/plan.go does: the native DedupKey, else the result of the
// mapping's id rule (the kind's preset), else BodyHash.
func effectiveKeys(t *testing.T, a Adapter, r *Request) []string {
	t.Helper()
	b, err := a.Parse(r)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	m, err := mapping.Compile(mapping.Spec{Source: "s", Kind: a.Kind(), Preset: a.Preset()})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(b.Events))
	for i := range b.Events {
		ev := &b.Events[i]
		key := ev.DedupKey
		if key == "" {
			if res, _ := m.Map(ev); res != nil {
				key = res.ID
			}
		}
		if key == "" {
			key = ev.BodyHash
		}
		keys[i] = key
	}
	return keys
}

func oneKey(t *testing.T, a Adapter, r *Request) string {
	t.Helper()
	keys := effectiveKeys(t, a, r)
	if len(keys) != 1 {
		t.Fatalf("got %d events, want 1", len(keys))
	}
	return keys[0]
}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// dynamicsSync is a Create of a lead by a synchronous step: Dataverse sends
// OperationId all zeros (there is no System Job).
func dynamicsSync(leadID, requestID string) []byte {
	return []byte(`{"MessageName":"Create","PrimaryEntityName":"lead","PrimaryEntityId":"` + leadID + `",
	"OperationId":"` + zeroGUID + `","RequestId":"` + requestID + `","CorrelationId":"8a9b2c4d-1e2f-4a5b-9c8d-7e6f5a4b3c2d","Depth":1,"Mode":0,
	"InputParameters":[{"key":"Target","value":{"Id":"` + leadID + `","LogicalName":"lead","Attributes":[{"key":"mobilephone","value":"099 111 222"}]}}]}`)
}

func pipedriveV1Seconds(name string, retry int) []byte {
	return []byte(`{"v":1,"meta":{"action":"updated","object":"person","id":813,"webhook_id":"5520","timestamp":1795607990},` +
		`"current":{"id":813,"name":"` + name + `","phone":[{"value":"099 1","primary":true}]},"previous":null,` +
		`"retry":` + string(rune('0'+retry)) + `,"event":"updated.person"}`)
}

func hubspotGeneric(eventID, attempt string) []byte {
	return []byte(`[{"eventId":` + eventID + `,"subscriptionId":7,"portalId":62515,"appId":1,"occurredAt":1732540200000,` +
		`"subscriptionType":"object.creation","objectTypeId":"0-1","attemptNumber":` + attempt + `,"objectId":` + eventID + `,"changeSource":"CRM"}]`)
}

// pipedriveV2EntityID is the v2 sample with meta.id set to the entity's
// id, at a timestamp and attempt.
func pipedriveV2EntityID(ts string, attempt int) []byte {
	b := string(samples.Body(samples.PipedriveV2Person))
	b = strings.Replace(b, `"7c1f3b2e-5a44-4e0b-9a1d-2f6c8e9b0a11"`, `"812"`, 1)
	b = strings.Replace(b, `"2026-11-20T14:03:11.412Z"`, strconv.Quote(ts), 1)
	return []byte(strings.Replace(b, `"attempt": 1`, fmt.Sprintf(`"attempt": %d`, attempt), 1))
}

// TestDedupKeysPerKind: for every kind, two distinct events must get
// different dedup keys (both are dialed), and a redelivery of one of them
// the same key (it is a duplicate).
func TestDedupKeysPerKind(t *testing.T) {
	open := func(kind string) Adapter {
		return mustNew(t, Config{Name: "s", Kind: kind, AllowUnauthenticated: true})
	}
	generic := []byte(`{"destination":"099 123 456","owner":"ana@example.com"}`)
	hsContact := samples.Body(samples.HubSpotWorkflowContact)
	cases := []struct {
		kind           string
		first, other   *Request
		redelivery     *Request
		distinctReason string
	}{
		{"generic",
			post("/w?lead=1", generic), post("/w?lead=2", generic),
			post("/w?wait=5s&lead=1&dry_run=false", generic),
			"same body, lead id only in the URL"},
		{"standard",
			post("/w", generic, "webhook-id", "msg_1"), post("/w", generic, "svix-id", "msg_2"),
			post("/w", generic, "webhook-id", "msg_1", "webhook-timestamp", "1"),
			"same body, two message ids"},
		{"close",
			post("/w", []byte(`{"event":{"id":"ev_1","object_type":"contact","action":"created","data":{}}}`)),
			post("/w", []byte(`{"event":{"id":"ev_2","object_type":"contact","action":"created","data":{}}}`)),
			post("/w", []byte(`{"event":{"id":"ev_1","object_type":"contact","action":"created","data":{}}}`)),
			"two event ids"},
		{"hubspot",
			post("/w?lead=1", hsContact), post("/w?lead=2", hsContact),
			post("/w?lead=1", hsContact),
			"workflow body, record differs only in the URL"},
		{"hubspot",
			post("/w", hubspotGeneric("101", "0")), post("/w", hubspotGeneric("102", "0")),
			post("/w", hubspotGeneric("101", "1")),
			"generic subscription events, redelivered with attemptNumber 1"},
		{"pipedrive",
			post("/w", pipedriveV1Seconds("Pablo", 0)), post("/w", pipedriveV1Seconds("Pablo Suarez", 0)),
			post("/w", pipedriveV1Seconds("Pablo", 1)),
			"v1 without timestamp_micro: two changes in the same second"},
		{"pipedrive",
			post("/w", samples.Body(samples.PipedriveV2Person)),
			post("/w", []byte(strings.Replace(string(samples.Body(samples.PipedriveV2Person)), "7c1f3b2e", "8d2e4c3f", 1))),
			post("/w", []byte(strings.Replace(string(samples.Body(samples.PipedriveV2Person)), `"attempt": 1`, `"attempt": 2`, 1))),
			"v2: two changes of one person (same entity_id), two event ids"},
		{"pipedrive",
			post("/w", pipedriveV2EntityID("2026-11-20T14:03:11.412Z", 1)),
			post("/w", pipedriveV2EntityID("2026-11-20T14:05:42.001Z", 1)),
			post("/w", pipedriveV2EntityID("2026-11-20T14:03:11.412Z", 2)),
			"v2 whose meta.id is the entity id: two changes at two times"},
		{"salesforce",
			sfRequest(sfOutbound(sfNote("04l1", "003A", "1"))), sfRequest(sfOutbound(sfNote("04l2", "003A", "1"))),
			sfRequest(sfOutbound(sfNote("04l1", "003A", "1"))),
			"notification ids"},
		{"zoho",
			post("/w?id=5725767000000412345&Mobile=099111222&token=t", nil),
			post("/w?id=5725767000000412346&Mobile=099333444&token=t", nil),
			post("/w?Mobile=099111222&id=5725767000000412345&token=t2", nil),
			"empty body, parameters in the URL"},
		{"dynamics",
			post("/w?code=k", dynamicsSync("3f1d9b22-5c6a-ef11-8409-000d3a5c1b2e", "aa000000-0000-4000-8000-000000000001")),
			post("/w?code=k", dynamicsSync("4a2e0c33-6d7b-ef11-8409-000d3a5c1b2e", "aa000000-0000-4000-8000-000000000002")),
			post("/w?code=k", dynamicsSync("3f1d9b22-5c6a-ef11-8409-000d3a5c1b2e", "aa000000-0000-4000-8000-000000000001")),
			"synchronous step: OperationId all zeros"},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+c.distinctReason, func(t *testing.T) {
			a := open(c.kind)
			k1, k2, k3 := oneKey(t, a, c.first), oneKey(t, a, c.other), oneKey(t, a, c.redelivery)
			if k1 == "" || k1 == k2 {
				t.Errorf("two distinct events share dedup key %q", k1)
			}
			if k1 != k3 {
				t.Errorf("redelivery got key %q, first delivery %q", k3, k1)
			}
		})
	}
}
