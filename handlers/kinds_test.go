package handlers_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"dialhook/internal/samples"
)

type call = [2]string // destination, agent (= the agent's phone)

// hsSubs is a HubSpot subscription batch whose propertyValue is a phone.
func hsSubs(events ...string) []byte {
	return []byte("[" + strings.Join(events, ",") + "]")
}

func hsSub(eventID, objectID, phone string) string {
	return `{"eventId":` + eventID + `,"subscriptionId":25,"portalId":62515,"appId":1160452,"occurredAt":1732540200000,` +
		`"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":` + objectID + `,` +
		`"propertyName":"phone","propertyValue":"` + phone + `","changeSource":"CRM"}`
}

// TestKindsAccepted sends each kind's deliveries as the CRM signs them:
// the answer is in the CRM's dialect, exactly the expected AgentCalls are
// placed, and a redelivery of the same body is acknowledged without a
// second call.
func TestKindsAccepted(t *testing.T) {
	const (
		queued   = "queued"
		accepted = "accepted" // a batch
		ack      = "ack"      // salesforce
	)
	cases := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		answer string
		calls  []call
	}{
		{"salesforce", func(t *testing.T) *http.Request { return sfReq(samples.Body(samples.SalesforceOutboundLead)) },
			ack, []call{{"59829012345", "1001"}}},
		{"salesforce two notifications", func(t *testing.T) *http.Request {
			return sfReq(sfOutbound(sfNote("04l1", "00Q1", "099 111 222"), sfNote("04l2", "00Q2", "099 333 444")))
		}, ack, []call{{"59899111222", "1001"}, {"59899333444", "1001"}}},
		{"hubspot workflow v3", func(t *testing.T) *http.Request {
			return hubspotV3Req("hubspot", samples.Body(samples.HubSpotWorkflowContact), testNow.Add(-time.Minute))
		}, queued, []call{{"59899123456", "1002"}}},
		{"hubspot workflow v2", func(t *testing.T) *http.Request {
			body := samples.Body(samples.HubSpotWorkflowContact)
			return postReq("/webhooks/hubspot", body, "Content-Type", "application/json",
				"X-HubSpot-Signature", hsV2(hsURI+"hubspot", body), "X-HubSpot-Signature-Version", "v2")
		}, queued, []call{{"59899123456", "1002"}}},
		{"hubspot workflow v1", func(t *testing.T) *http.Request {
			body := samples.Body(samples.HubSpotWorkflowContact)
			return postReq("/webhooks/hubspot", body, "Content-Type", "application/json",
				"X-HubSpot-Signature", hsV1(body), "X-HubSpot-Signature-Version", "v1")
		}, queued, []call{{"59899123456", "1002"}}},
		{"hubspot subscriptions v1", func(t *testing.T) *http.Request {
			body := hsSubs(hsSub("1", "4051", "099 111 222"), hsSub("2", "4052", "099 333 444"))
			return postReq("/webhooks/hubsub", body, "Content-Type", "application/json",
				"X-HubSpot-Signature", hsV1(body), "X-HubSpot-Signature-Version", "v1")
		}, accepted, []call{{"59899111222", "1009"}, {"59899333444", "1009"}}},
		{"hubspot subscriptions v3", func(t *testing.T) *http.Request {
			return hubspotV3Req("hubsub", hsSubs(hsSub("3", "4053", "099 555 666")), testNow)
		}, queued, []call{{"59899555666", "1009"}}},
		{"pipedrive v2", func(t *testing.T) *http.Request {
			return pdReq(samples.Body(samples.PipedriveV2Person), samples.PipedriveUser, samples.PipedrivePassword)
		},
			queued, []call{{"5491151234567", "1003"}}},
		{"pipedrive v1", func(t *testing.T) *http.Request {
			return pdReq(samples.Body(samples.PipedriveV1Person), samples.PipedriveUser, samples.PipedrivePassword)
		},
			queued, []call{{"59899888777", "1003"}}},
		{"zoho json, token in body", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", samples.Body(samples.ZohoLeadJSON), "Content-Type", "application/json")
		}, queued, []call{{"59899555111", "1004"}}},
		{"zoho json, token header", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", samples.ZohoWithoutToken(samples.ZohoLeadJSON), "Content-Type", "application/json", "X-Dialhook-Token", samples.ZohoToken)
		}, queued, []call{{"59899555111", "1004"}}},
		{"zoho form, token in body", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", samples.Body(samples.ZohoLeadForm), "Content-Type", "application/x-www-form-urlencoded")
		}, queued, []call{{"59899555111", "1004"}}},
		{"zoho form, token parameter", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho?token="+samples.ZohoToken, samples.ZohoWithoutToken(samples.ZohoLeadForm), "Content-Type", "application/x-www-form-urlencoded")
		}, queued, []call{{"59899555111", "1004"}}},
		{"dynamics webhook key", func(t *testing.T) *http.Request {
			return postReq("/webhooks/dynamics?code="+samples.DynamicsKey, samples.Body(samples.DynamicsLeadCreate),
				"Content-Type", "application/json", "x-request-id", "5a1f0c7e-0000-4000-8000-000000000001")
		}, queued, []call{{"14155550132", "1005"}}},
		{"dynamics auth header and query", func(t *testing.T) *http.Request {
			return postReq("/webhooks/dynhdr?tenant="+samples.DynamicsQueryKey, samples.Body(samples.DynamicsLeadCreate),
				"Content-Type", "application/json", "X-Api-Key", samples.DynamicsHeaderKey)
		}, queued, []call{{"14155550132", "1005"}}},
		{"close", func(t *testing.T) *http.Request {
			return closeReq(samples.Body(samples.CloseLeadCreated), testNow.Add(-time.Minute))
		},
			queued, []call{{"59899123456", "1006"}}},
		{"standard", func(t *testing.T) *http.Request { return stdReq("msg_1", samples.Body(samples.StandardCall), testNow) },
			queued, []call{{"59899765432", "1002"}}},
		{"generic without secret", func(t *testing.T) *http.Request {
			return postReq("/webhooks/generic", samples.Body(samples.GenericCall), "Content-Type", "application/json")
		}, queued, []call{{"59899123456", "1007"}}},
		{"generic token header", func(t *testing.T) *http.Request {
			return postReq("/webhooks/flow", samples.Body(samples.GenericCall), "Content-Type", "application/json", "X-Dialhook-Token", samples.GenericToken)
		}, queued, []call{{"59899123456", "1007"}}},
		{"generic token parameter", func(t *testing.T) *http.Request {
			return postReq("/webhooks/flow?token="+samples.GenericToken, samples.Body(samples.GenericCall), "Content-Type", "application/json")
		}, queued, []call{{"59899123456", "1007"}}},
	}
	stores(t, func(t *testing.T, redis bool) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel() // each case has a server, store and uContact of its own
				e := newEnv(t, envOptions{redis: redis})
				r := e.do(c.req(t))
				var ids []string
				switch c.answer {
				case ack:
					wantSOAP(t, r, http.StatusOK, "")
				case queued:
					ids = append(ids, wantStatus(t, r, http.StatusAccepted, "queued")["event_id"].(string))
				case accepted:
					evs, _ := wantStatus(t, r, http.StatusAccepted, "accepted")["events"].([]any)
					for _, ev := range evs {
						m := ev.(map[string]any)
						if m["status"] != "queued" {
							t.Errorf("batch event %v, want queued", m)
						}
						ids = append(ids, m["event_id"].(string))
					}
				}
				e.wantCalls(c.calls...)
				placed := e.list("placed")
				if len(placed) != len(c.calls)+1 { // + settle's marker
					t.Errorf("%d placed events, want %d", len(placed), len(c.calls)+1)
				}
				for _, id := range ids {
					rec := e.event(id)
					if rec["state"] != "placed" || rec["call_guid"] == "" || rec["attempts"] != 1.0 {
						t.Errorf("record %v, want placed once with a GUID", rec)
					}
				}

				// A redelivery of the same body: 2xx, no second call.
				r = e.do(c.req(t))
				switch c.answer {
				case ack:
					wantSOAP(t, r, http.StatusOK, "")
				case queued:
					m := wantStatus(t, r, http.StatusOK, "duplicate")
					if m["event_id"] != ids[0] || m["call_guid"] != e.event(ids[0])["call_guid"] {
						t.Errorf("duplicate answer %v, want the first event %s and its GUID", m, ids[0])
					}
				case accepted:
					evs, _ := wantStatus(t, r, http.StatusOK, "accepted")["events"].([]any)
					for i, ev := range evs {
						if m := ev.(map[string]any); m["status"] != "duplicate" || m["event_id"] != ids[i] {
							t.Errorf("redelivered batch event %v, want duplicate of %s", m, ids[i])
						}
					}
				}
				e.wantCalls(c.calls...)
				noSecrets(t, "log", e.logText())
			})
		}
	})
}

// TestKindsRefused: bad credentials answer 401 without saying what was
// expected, stale and future timestamps 401, malformed bodies 400, in the
// sender's dialect; nothing is recorded or dialed.
func TestKindsRefused(t *testing.T) {
	const (
		unauthorized  = "unauthorized"
		malformed     = "malformed"
		unprocessable = "unprocessable"
	)
	sfLead := func(t *testing.T) []byte { return samples.Body(samples.SalesforceOutboundLead) }
	contact := func(t *testing.T) []byte { return samples.Body(samples.HubSpotWorkflowContact) }
	closeBody := func(t *testing.T) []byte { return samples.Body(samples.CloseLeadCreated) }
	stdBody := func(t *testing.T) []byte { return samples.Body(samples.StandardCall) }
	dynBody := func(t *testing.T) []byte { return samples.Body(samples.DynamicsLeadCreate) }
	skew := 5*time.Minute + time.Second
	bad := []byte(`{"bad json`)

	type refusal struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		code   string
		// hidden returns what the answer and the log must not show: the
		// signature or credential the request should have carried.
		hidden func(t *testing.T) []string
	}
	none := func(*testing.T) []string { return nil }
	cases := []refusal{
		{"salesforce org id not allowed", func(t *testing.T) *http.Request {
			return sfReq(bytes.Replace(sfLead(t), []byte(samples.SalesforceOrgID), []byte("00D5g000004XyZbEAK"), 1))
		}, 401, unauthorized, func(*testing.T) []string { return []string{samples.SalesforceOrgID, samples.SalesforceOrgID[:15]} }},
		{"salesforce no org id", func(t *testing.T) *http.Request {
			return sfReq([]byte(`<Envelope><Body><notifications></notifications></Body></Envelope>`))
		}, 401, unauthorized, func(*testing.T) []string { return []string{samples.SalesforceOrgID, samples.SalesforceOrgID[:15]} }},
		{"salesforce not XML", func(t *testing.T) *http.Request {
			return sfReq([]byte(`{"OrganizationId":"` + samples.SalesforceOrgID + `"}`))
		}, 400, malformed, none},
		{"salesforce truncated", func(t *testing.T) *http.Request { return sfReq(sfLead(t)[:200]) }, 400, malformed, none},
		{"salesforce no notification", func(t *testing.T) *http.Request { return sfReq(sfOutbound()) }, 400, malformed, none},

		{"hubspot v3 bad signature", func(t *testing.T) *http.Request {
			r := hubspotV3Req("hubspot", contact(t), testNow)
			r.Header.Set("X-HubSpot-Signature-v3", hsV3(hsURI+"hubspot", []byte("other"), unixMs(testNow)))
			return r
		}, 401, unauthorized, func(t *testing.T) []string { return []string{hsV3(hsURI+"hubspot", contact(t), unixMs(testNow))} }},
		{"hubspot v3 stale", func(t *testing.T) *http.Request { return hubspotV3Req("hubspot", contact(t), testNow.Add(-skew)) },
			401, unauthorized, none},
		{"hubspot v3 future", func(t *testing.T) *http.Request { return hubspotV3Req("hubspot", contact(t), testNow.Add(skew)) },
			401, unauthorized, none},
		{"hubspot v3 signed for another URL", func(t *testing.T) *http.Request {
			r := hubspotV3Req("hubspot", contact(t), testNow)
			r.Header.Set("X-HubSpot-Signature-v3", hsV3("https://elsewhere.example/webhooks/hubspot", contact(t), unixMs(testNow)))
			return r
		}, 401, unauthorized, func(t *testing.T) []string { return []string{hsV3(hsURI+"hubspot", contact(t), unixMs(testNow))} }},
		{"hubspot v2 bad signature", func(t *testing.T) *http.Request {
			return postReq("/webhooks/hubspot", contact(t), "X-HubSpot-Signature", hsV1(contact(t)), "X-HubSpot-Signature-Version", "v2")
		}, 401, unauthorized, func(t *testing.T) []string { return []string{hsV2(hsURI+"hubspot", contact(t))} }},
		{"hubspot v1 bad signature", func(t *testing.T) *http.Request {
			return postReq("/webhooks/hubspot", contact(t), "X-HubSpot-Signature", hsV1([]byte("other")), "X-HubSpot-Signature-Version", "v1")
		}, 401, unauthorized, func(t *testing.T) []string { return []string{hsV1(contact(t))} }},
		{"hubspot no signature", func(t *testing.T) *http.Request { return postReq("/webhooks/hubspot", contact(t)) }, 401, unauthorized, none},
		{"hubspot malformed", func(t *testing.T) *http.Request { return hubspotV3Req("hubspot", bad, testNow) }, 400, malformed, none},
		{"hubspot empty array", func(t *testing.T) *http.Request { return hubspotV3Req("hubsub", []byte(`[]`), testNow) }, 400, malformed, none},

		{"pipedrive wrong password", func(t *testing.T) *http.Request {
			return pdReq(samples.Body(samples.PipedriveV2Person), samples.PipedriveUser, "guess")
		}, 401, unauthorized, none},
		{"pipedrive no credentials", func(t *testing.T) *http.Request {
			return postReq("/webhooks/pipedrive", samples.Body(samples.PipedriveV2Person))
		}, 401, unauthorized, none},
		{"pipedrive malformed", func(t *testing.T) *http.Request { return pdReq(bad, samples.PipedriveUser, samples.PipedrivePassword) }, 400, malformed, none},
		{"pipedrive no meta", func(t *testing.T) *http.Request {
			return pdReq([]byte(`{"data":{}}`), samples.PipedriveUser, samples.PipedrivePassword)
		}, 400, malformed, none},

		{"zoho wrong token header", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", samples.ZohoWithoutToken(samples.ZohoLeadJSON), "Content-Type", "application/json", "X-Dialhook-Token", "guess")
		}, 401, unauthorized, none},
		{"zoho wrong token in form", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", append(samples.ZohoWithoutToken(samples.ZohoLeadForm), "&token=guess"...), "Content-Type", "application/x-www-form-urlencoded")
		}, 401, unauthorized, none},
		{"zoho no token", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", samples.ZohoWithoutToken(samples.ZohoLeadJSON), "Content-Type", "application/json")
		}, 401, unauthorized, none},
		{"zoho malformed", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", bad, "Content-Type", "application/json", "X-Dialhook-Token", samples.ZohoToken)
		}, 400, malformed, none},

		{"dynamics wrong code", func(t *testing.T) *http.Request { return postReq("/webhooks/dynamics?code=guess", dynBody(t)) }, 401, unauthorized, none},
		{"dynamics no code", func(t *testing.T) *http.Request { return postReq("/webhooks/dynamics", dynBody(t)) }, 401, unauthorized, none},
		{"dynamics header missing", func(t *testing.T) *http.Request {
			return postReq("/webhooks/dynhdr?tenant="+samples.DynamicsQueryKey, dynBody(t))
		}, 401, unauthorized, none},
		{"dynamics query wrong", func(t *testing.T) *http.Request {
			return postReq("/webhooks/dynhdr?tenant=guess", dynBody(t), "X-Api-Key", samples.DynamicsHeaderKey)
		}, 401, unauthorized, none},
		{"dynamics malformed", func(t *testing.T) *http.Request {
			return postReq("/webhooks/dynamics?code="+samples.DynamicsKey, []byte(`[1]`))
		}, 400, malformed, none},
		{"dynamics size exceeded", func(t *testing.T) *http.Request {
			return postReq("/webhooks/dynamics?code="+samples.DynamicsKey,
				[]byte(`{"MessageName":"Create","PrimaryEntityName":"lead","PrimaryEntityId":"3f1d","InputParameters":[]}`),
				"x-ms-dynamics-msg-size-exceeded", "true")
		}, 422, unprocessable, none},

		{"close bad signature", func(t *testing.T) *http.Request {
			r := closeReq(closeBody(t), testNow)
			r.Header.Set("close-sig-hash", closeSig(unixS(testNow), []byte("other")))
			return r
		}, 401, unauthorized, func(t *testing.T) []string { return []string{closeSig(unixS(testNow), closeBody(t))} }},
		{"close stale", func(t *testing.T) *http.Request { return closeReq(closeBody(t), testNow.Add(-skew)) }, 401, unauthorized, none},
		{"close future", func(t *testing.T) *http.Request { return closeReq(closeBody(t), testNow.Add(skew)) }, 401, unauthorized, none},
		{"close no signature", func(t *testing.T) *http.Request { return postReq("/webhooks/close", closeBody(t)) }, 401, unauthorized, none},
		{"close malformed", func(t *testing.T) *http.Request { return closeReq(bad, testNow) }, 400, malformed, none},

		{"standard bad signature", func(t *testing.T) *http.Request {
			r := stdReq("msg_1", stdBody(t), testNow)
			r.Header.Set("webhook-signature", stdSig("msg_2", unixS(testNow), stdBody(t)))
			return r
		}, 401, unauthorized, func(t *testing.T) []string {
			return []string{strings.TrimPrefix(stdSig("msg_1", unixS(testNow), stdBody(t)), "v1,")}
		}},
		{"standard stale", func(t *testing.T) *http.Request { return stdReq("msg_1", stdBody(t), testNow.Add(-skew)) }, 401, unauthorized, none},
		{"standard future", func(t *testing.T) *http.Request { return stdReq("msg_1", stdBody(t), testNow.Add(skew)) }, 401, unauthorized, none},
		{"standard malformed", func(t *testing.T) *http.Request { return stdReq("msg_1", bad, testNow) }, 400, malformed, none},

		{"generic wrong token", func(t *testing.T) *http.Request {
			return postReq("/webhooks/flow", samples.Body(samples.GenericCall), "X-Dialhook-Token", "guess")
		}, 401, unauthorized, none},
		{"generic wrong token parameter", func(t *testing.T) *http.Request {
			return postReq("/webhooks/flow?token=guess", samples.Body(samples.GenericCall))
		}, 401, unauthorized, none},
		{"generic no token", func(t *testing.T) *http.Request { return postReq("/webhooks/flow", samples.Body(samples.GenericCall)) }, 401, unauthorized, none},
		{"generic malformed", func(t *testing.T) *http.Request { return postReq("/webhooks/generic", bad) }, 400, malformed, none},
		{"generic array", func(t *testing.T) *http.Request { return postReq("/webhooks/generic", []byte(`[{}]`)) }, 400, malformed, none},
	}
	e := newEnv(t, envOptions{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.req(t))
			hidden := c.hidden(t)
			if strings.HasPrefix(c.name, "salesforce") {
				code := "soapenv:Client"
				wantSOAP(t, r, c.status, code)
				if c.status == 401 && !bytes.Contains(r.Body, []byte("<faultstring>authentication failed</faultstring>")) {
					t.Errorf("fault %s, want the generic message", r.Body)
				}
			} else {
				ed := wantError(t, r, c.status, c.code)
				if c.status == 401 && ed["message"] != "authentication failed" {
					t.Errorf("401 message %q, want the generic one", ed["message"])
				}
				if c.code == unprocessable && !strings.Contains(ed["message"].(string), "256 KB") {
					t.Errorf("size-exceeded message %q does not explain", ed["message"])
				}
			}
			noSecrets(t, "answer", r.Body, hidden...)
			noSecrets(t, "log", e.logText(), hidden...)
		})
	}
	for _, s := range []string{"queued", "placed", "rejected", "ignored"} {
		if n := len(e.list(s)); n != 0 {
			t.Errorf("%d %s events after refused requests", n, s)
		}
	}
	e.wantCalls()
}

// TestKindsMappingRejected: a record without a phone is answered 200 (Ack
// for Salesforce) to CRMs and 422 mapping_failed to custom senders, and is
// recorded as rejected either way; nothing is dialed.
func TestKindsMappingRejected(t *testing.T) {
	noPhone := func(t *testing.T, name, old, new string) []byte {
		b := samples.Body(name)
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%s does not contain %s", name, old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	cases := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int // 200 {"status":"rejected"}, 422 mapping_failed, or 0 for the SOAP Ack
	}{
		{"salesforce", func(t *testing.T) *http.Request { return sfReq(sfOutbound(sfNote("04lR", "00QR", ""))) }, 0},
		{"hubspot", func(t *testing.T) *http.Request {
			return hubspotV3Req("hubspot", noPhone(t, samples.HubSpotWorkflowContact, `"phone": {"value": "099 123 456"`, `"phone": {"value": null`), testNow)
		}, 200},
		// Subscription events carry no phone: with the preset every event
		// of the batch is rejected.
		{"hubspot subscription preset", func(t *testing.T) *http.Request {
			return hubspotV3Req("hubspot", samples.Body(samples.HubSpotSubscriptionBatch), testNow)
		}, 200},
		{"pipedrive", func(t *testing.T) *http.Request {
			return pdReq(noPhone(t, samples.PipedriveV2Person, `"phones": [`, `"phones": [], "x": [`), samples.PipedriveUser, samples.PipedrivePassword)
		}, 200},
		{"zoho", func(t *testing.T) *http.Request {
			return postReq("/webhooks/zoho", noPhone(t, samples.ZohoLeadJSON, `"Phone":"099 555 111",`, ``), "Content-Type", "application/json")
		}, 200},
		{"dynamics", func(t *testing.T) *http.Request {
			return postReq("/webhooks/dynamics?code="+samples.DynamicsKey, noPhone(t, samples.DynamicsLeadCreate, `"+1 (415) 555-0132"`, `null`))
		}, 200},
		{"close", func(t *testing.T) *http.Request {
			return closeReq(noPhone(t, samples.CloseLeadCreated, `"phones":[{"phone":"+598 99 123 456","type":"mobile"}]`, `"phones":[]`), testNow)
		}, 200},
		{"standard", func(t *testing.T) *http.Request {
			return stdReq("msg_9", []byte(`{"event_id":"evt-9","owner":"71234567"}`), testNow)
		}, 422},
		{"generic", func(t *testing.T) *http.Request {
			return postReq("/webhooks/generic", []byte(`{"event_id":"evt-10","owner":"ana@example.com","destination":"12"}`))
		}, 422},
	}
	stores(t, func(t *testing.T, redis bool) {
		e := newEnv(t, envOptions{redis: redis})
		rejected := 0
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(c.req(t))
				var ids []string
				switch c.status {
				case 0:
					wantSOAP(t, r, http.StatusOK, "")
					rejected++
				case 200:
					m := r.json(t)
					if r.Status != 200 {
						t.Fatalf("answer %s, want 200", r)
					}
					if evs, ok := m["events"].([]any); ok { // a batch
						for _, ev := range evs {
							em := ev.(map[string]any)
							if em["status"] != "rejected" || em["fields"] == nil {
								t.Errorf("batch event %v, want rejected with fields", em)
							}
							ids = append(ids, em["event_id"].(string))
						}
						break
					}
					fields, _ := m["fields"].(map[string]any)
					if m["status"] != "rejected" || fields["destination"] == nil || m["reason"] == "" {
						t.Fatalf("answer %s, want rejected with the destination field", r.Body)
					}
					ids = append(ids, m["event_id"].(string))
				case 422:
					ed := wantError(t, r, 422, "mapping_failed")
					fields, _ := ed["fields"].(map[string]any)
					if fields["destination"] == nil {
						t.Errorf("fields %v do not name destination", ed["fields"])
					}
					id, _ := r.json(t)["event_id"].(string)
					ids = append(ids, id)
				}
				for _, id := range ids {
					rec := e.event(id)
					if rec["state"] != "rejected" || rec["error_kind"] != "mapping_failed" || rec["fields"] == nil {
						t.Errorf("record %v, want rejected by mapping", rec)
					}
				}
				rejected += len(ids)
				if n := len(e.list("rejected")); n != rejected {
					t.Errorf("%d rejected events listed, want %d", n, rejected)
				}
			})
		}
		e.wantCalls()
	})
}

// TestBatchDuplicates: an event repeated inside one batch is dialed once.
func TestBatchDuplicates(t *testing.T) {
	stores(t, func(t *testing.T, redis bool) {
		t.Run("salesforce", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{redis: redis})
			note := sfNote("04l1", "00Q1", "099 111 222")
			wantSOAP(t, e.do(sfReq(sfOutbound(note, note))), http.StatusOK, "")
			e.wantCalls(call{"59899111222", "1001"})
		})
		t.Run("hubspot", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{redis: redis})
			ev := hsSub("7", "4051", "099 111 222")
			m := wantStatus(t, e.do(hubspotV3Req("hubsub", hsSubs(ev, ev), testNow)), http.StatusAccepted, "accepted")
			evs := m["events"].([]any)
			first, second := evs[0].(map[string]any), evs[1].(map[string]any)
			if first["status"] != "queued" || second["status"] != "duplicate" || second["event_id"] != first["event_id"] {
				t.Errorf("events %v, want queued then its duplicate", evs)
			}
			e.wantCalls(call{"59899111222", "1009"})
		})
	})
}

// TestIgnoredDeletes: delete events are acknowledged and not recorded.
func TestIgnoredDeletes(t *testing.T) {
	e := newEnv(t, envOptions{})
	wantStatus(t, e.do(pdReq(samples.Body(samples.PipedriveV2Delete), samples.PipedriveUser, samples.PipedrivePassword)), http.StatusOK, "ignored")
	wantStatus(t, e.do(postReq("/webhooks/dynamics?code="+samples.DynamicsKey, []byte(`{"MessageName":"Delete","PrimaryEntityName":"lead"}`))),
		http.StatusOK, "ignored")
	e.wantCalls()
}
