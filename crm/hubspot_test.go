package crm

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"dialhook/internal/samples"
	"dialhook/mapping"
)

// Vectors computed independently with python3 hmac/hashlib over the
// sample bodies, secret samples.HubSpotSecret, method POST, timestamp hsTS.
const (
	hsTS = "1795608000000" // testNow in ms
	// https://abc.ngrok-free.app/webhooks/hubspot?a=b:c&x=/ (v3 decodes %3A %2F)
	hsV3NgrokQuery = "9gkwtmeFHrUNOciSNkKn1BTy9dKYOGYVbbaS9A7966o="
	// http://localhost:8080/webhooks/hubspot
	hsV3Local = "DBJ3ykk4l3+UizwEt7363er8Eohy8UjF4SepkrHI/Xs="
	// https://abc.ngrok-free.app/webhooks/hubspot, subscription batch
	hsV3BatchNgrok = "+g++4Z09/lZ18jdqTTiV+bILVNM4S6fZE/KPkwKJYsc="
	// https://abc.ngrok-free.app/webhooks/hubspot?a=b%3Ac&x=%2F (v2 signs the URI as sent)
	hsV2NgrokQuery = "57300f7296bd32fa676f836cee57a310ca96e4319d4c114fb6fb149361bcf6b3"
	hsV2Local      = "3634e73401cfa085ee3c9b2c6dc73c15d79eb8805a72e4ef2bd0f81027f8aa80"
	hsV1Batch      = "63f454c566a2fbd88d4b56c92d759840cac9ca6433437498cfd8dd8574f9f301"
)

// testV3 signs a POST as HubSpot v3 does, for timestamps other than hsTS.
func testV3(uri string, body []byte, ts string) string {
	return samples.HubSpotV3(samples.HubSpotSecret, http.MethodPost, uri, body, ts)
}

func TestHubSpotAuthenticate(t *testing.T) {
	contact := samples.Body(samples.HubSpotWorkflowContact)
	batch := samples.Body(samples.HubSpotSubscriptionBatch)
	ngrok := mustNew(t, Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret, PublicBaseURL: "https://abc.ngrok-free.app/"})
	local := mustNew(t, Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret})
	proxy := mustNew(t, Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret, TrustProxy: true})
	const q = "/webhooks/hubspot?a=b%3Ac&x=%2F"
	v3 := func(target string, body []byte, sig, ts string, extra ...string) *Request {
		return post(target, body, append([]string{"X-HubSpot-Signature-v3", sig, "X-HubSpot-Request-Timestamp", ts}, extra...)...)
	}
	v2 := func(target string, body []byte, sig string) *Request {
		return post(target, body, "X-HubSpot-Signature", sig, "X-HubSpot-Signature-Version", "v2")
	}
	skew := 5 * time.Minute
	stale := strconv.FormatInt(testNow.Add(-skew-time.Millisecond).UnixMilli(), 10)
	future := strconv.FormatInt(testNow.Add(skew+time.Millisecond).UnixMilli(), 10)
	edge := strconv.FormatInt(testNow.Add(-skew).UnixMilli(), 10)
	ngrokURL := "https://abc.ngrok-free.app/webhooks/hubspot"
	secrets := []string{samples.HubSpotSecret, hsV3NgrokQuery, hsV3Local, hsV2NgrokQuery, hsV2Local, hsV1Batch}

	runAuth(t, ngrok, []authCase{
		{"v3 ngrok with escaped query", v3(q, contact, hsV3NgrokQuery, hsTS), nil, ""},
		{"v3 batch", v3("/webhooks/hubspot", batch, hsV3BatchNgrok, hsTS), nil, ""},
		{"v3 at the skew edge", v3("/webhooks/hubspot", contact, testV3(ngrokURL, contact, edge), edge), nil, ""},
		{"v3 stale", v3("/webhooks/hubspot", contact, testV3(ngrokURL, contact, stale), stale), ErrUnauthenticated, "stale timestamp"},
		{"v3 future", v3("/webhooks/hubspot", contact, testV3(ngrokURL, contact, future), future), ErrUnauthenticated, "timestamp in the future"},
		{"v3 timestamp in seconds", v3("/webhooks/hubspot", contact, testV3(ngrokURL, contact, "1795608000"), "1795608000"), ErrUnauthenticated, "stale timestamp"},
		{"v3 float timestamp", v3("/webhooks/hubspot", contact, hsV3NgrokQuery, "1.795608e12"), ErrUnauthenticated, "bad timestamp"},
		{"v3 missing timestamp", post(q, contact, "X-HubSpot-Signature-v3", hsV3NgrokQuery), ErrUnauthenticated, "missing header"},
		{"v3 other query", v3("/webhooks/hubspot?a=b%3Ac&x=%2Fy", contact, hsV3NgrokQuery, hsTS), ErrUnauthenticated, "bad signature"},
		{"v3 tampered body", v3(q, append([]byte(" "), contact...), hsV3NgrokQuery, hsTS), ErrUnauthenticated, "bad signature"},
		{"v3 other method", func() *Request { r := v3(q, contact, hsV3NgrokQuery, hsTS); r.Method = "PUT"; return r }(), ErrUnauthenticated, "bad signature"},
		{"v2 ngrok with escaped query", v2(q, contact, hsV2NgrokQuery), nil, ""},
		{"v2 upper-case hex", v2(q, contact, strings.ToUpper(hsV2NgrokQuery)), nil, ""},
		{"v2 local URI behind ngrok", v2("/webhooks/hubspot", contact, hsV2Local), ErrUnauthenticated, "bad signature"},
		{"v1 batch", post("/webhooks/hubspot", batch, "X-HubSpot-Signature", hsV1Batch, "X-HubSpot-Signature-Version", "v1"), nil, ""},
		{"v1 without version header", post("/webhooks/hubspot", batch, "X-HubSpot-Signature", hsV1Batch), nil, ""},
		{"v1 signature claimed as v2", post("/webhooks/hubspot", batch, "X-HubSpot-Signature", hsV1Batch, "X-HubSpot-Signature-Version", "v2"), ErrUnauthenticated, "bad signature"},
		{"unknown version", post("/webhooks/hubspot", batch, "X-HubSpot-Signature", hsV1Batch, "X-HubSpot-Signature-Version", "v9"), ErrUnauthenticated, "unsupported signature version"},
		{"no signature", post("/webhooks/hubspot", contact), ErrUnauthenticated, "missing header"},
	}, secrets...)

	runAuth(t, local, []authCase{
		{"v3 local", v3("/webhooks/hubspot", contact, hsV3Local, hsTS), nil, ""},
		{"v2 local", v2("/webhooks/hubspot", contact, hsV2Local), nil, ""},
		{"v3 ngrok signature without public_base_url", v3(q, contact, hsV3NgrokQuery, hsTS), ErrUnauthenticated, "bad signature"},
		{"forwarded headers not trusted", v3(q, contact, hsV3NgrokQuery, hsTS, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "abc.ngrok-free.app"), ErrUnauthenticated, "bad signature"},
	}, secrets...)

	tlsReq := v3("/webhooks/hubspot?a=b%3Ac&x=%2F", contact, hsV3NgrokQuery, hsTS)
	tlsReq.TLS, tlsReq.Host = true, "abc.ngrok-free.app"
	runAuth(t, proxy, []authCase{
		{"trusted forwarded headers", v3(q, contact, hsV3NgrokQuery, hsTS, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "abc.ngrok-free.app"), nil, ""},
		{"first forwarded value", v3(q, contact, hsV3NgrokQuery, hsTS, "X-Forwarded-Proto", "https, http", "X-Forwarded-Host", "abc.ngrok-free.app, proxy.internal"), nil, ""},
		{"TLS and Host when no forwarded headers", tlsReq, nil, ""},
	}, secrets...)
}

func TestHubSpotSignedURI(t *testing.T) {
	a := mustNew(t, Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret, PublicBaseURL: "https://abc.ngrok-free.app/prefix/"}).(*hubspotAdapter)
	r := post("/webhooks/hs?a=b%3Ac&x=%2F", nil)
	if got, want := a.signedURI(r), "https://abc.ngrok-free.app/prefix/webhooks/hs?a=b%3Ac&x=%2F"; got != want {
		t.Errorf("signedURI = %q, want %q", got, want)
	}
	if got, want := hubspotDecodeURI("https://h/p%2fq?a=%3A%3a%20%40%21%24%27%28%29%2A%2C%3B%3F"), "https://h/p/q?a=::%20@!$'()*,;?"; got != want {
		t.Errorf("decode = %q, want %q", got, want)
	}
}

func TestHubSpotParse(t *testing.T) {
	a := mustNew(t, Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret, PublicBaseURL: "https://abc.ngrok-free.app"})
	contact := samples.Body(samples.HubSpotWorkflowContact)
	batch := samples.Body(samples.HubSpotSubscriptionBatch)

	t.Run("workflow contact", func(t *testing.T) {
		r := post("/webhooks/hubspot?a=b%3Ac&x=%2F", contact, "X-HubSpot-Signature-v3", hsV3NgrokQuery, "X-HubSpot-Request-Timestamp", hsTS)
		ev := one(t, mustParse(t, a, r))
		wantEvent(t, ev, "", "contact", "4051", "")
		// Since issue 9 item 2 the hash covers the query parameters too.
		if string(ev.Record) != string(contact) || ev.BodyHash != queryHash("a=b%3Ac&x=%2F", contact) {
			t.Error("record or hash is not the body")
		}
	})

	t.Run("subscription batch", func(t *testing.T) {
		r := post("/webhooks/hubspot", batch, "X-HubSpot-Signature-v3", hsV3BatchNgrok, "X-HubSpot-Request-Timestamp", hsTS)
		b := mustParse(t, a, r)
		if len(b.Events) != 2 {
			t.Fatalf("got %d events", len(b.Events))
		}
		wantEvent(t, b.Events[0], "62515:25:3816279340:1732540200000", "contact", "4051", "propertyChange")
		wantEvent(t, b.Events[1], "62515:25:3816279341:1732540201000", "contact", "4052", "propertyChange")
		if field(t, b.Events[1], "propertyValue") != `"CALL_NOW"` || b.Events[0].BodyHash == b.Events[1].BodyHash {
			t.Error("element record or hash wrong")
		}
	})

	t.Run("duplicate inside batch and redelivery", func(t *testing.T) {
		el := `{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":4,"subscriptionType":"deal.creation","objectId":9,"attemptNumber":0}`
		redelivered := strings.Replace(el, `"attemptNumber":0`, `"attemptNumber":1`, 1)
		b, err := a.Parse(post("/", []byte("["+el+","+el+","+redelivered+"]")))
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Events) != 3 {
			t.Fatalf("got %d events", len(b.Events))
		}
		for _, ev := range b.Events {
			wantEvent(t, ev, "3:2:1:4", "deal", "9", "creation")
		}
	})

	for _, c := range []struct{ name, body string }{
		{"empty array", "[]"},
		{"not JSON", "vid=1"},
		{"truncated", string(contact[:40])},
		{"array of strings", `["a"]`},
		{"event without eventId", `[{"subscriptionId":1}]`},
		{"scalar", `42`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(post("/", []byte(c.body)))
			checkErr(t, err, ErrMalformed)
		})
	}
}

func FuzzHubSpot(f *testing.F) {
	f.Add(samples.Body(samples.HubSpotWorkflowContact))
	f.Add(samples.Body(samples.HubSpotSubscriptionBatch))
	f.Add([]byte(`[{"eventId":"x"}]`))
	a := mustNew(f, Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := post("/webhooks/hubspot", body, "X-HubSpot-Signature", "00", "X-HubSpot-Signature-Version", "v1")
		if a.Authenticate(r) == nil {
			t.Fatal("accepted a bad signature")
		}
		b, err := a.Parse(r)
		if err != nil {
			return
		}
		if len(b.Events) == 0 || len(b.Events) > hubspotMaxEvents {
			t.Fatalf("%d events", len(b.Events))
		}
	})
}

func TestHubSpotGenericObjectTypes(t *testing.T) {
	a := mustNew(t, Config{Name: "hs", Kind: "hubspot", AllowUnauthenticated: true})
	el := func(eventID int, subType, typeID string) string {
		s := `{"eventId":` + strconv.Itoa(eventID) + `,"subscriptionId":7,"portalId":62515,"occurredAt":1732540200000,` +
			`"subscriptionType":"` + subType + `","objectId":9,"attemptNumber":0`
		if typeID != "" {
			s += `,"objectTypeId":"` + typeID + `"`
		}
		return s + "}"
	}
	cases := []struct{ subType, typeID, wantType, wantAction string }{
		{"object.creation", "0-1", "contact", "creation"},
		{"object.propertyChange", "0-2", "company", "propertyChange"},
		{"object.creation", "0-3", "deal", "creation"},
		{"object.deletion", "0-5", "ticket", "deletion"},
		{"object.creation", "0-136", "lead", "creation"},
		{"object.creation", "2-4242", "2-4242", "creation"}, // custom object: keeps its id
		{"object.creation", "0-99999", "0-99999", "creation"},
		{"object.creation", "", "object", "creation"},
		{"contact.creation", "", "contact", "creation"}, // legacy: as before
		{"contact.propertyChange", "0-1", "contact", "propertyChange"},
	}
	var elems []string
	for i, c := range cases {
		elems = append(elems, el(i+1, c.subType, c.typeID))
	}
	b := mustParse(t, a, post("/", []byte("["+strings.Join(elems, ",")+"]")))
	for i, c := range cases {
		if ev := b.Events[i]; ev.ObjectType != c.wantType || ev.Action != c.wantAction {
			t.Errorf("%s %q: type %q action %q, want %q %q", c.subType, c.typeID, ev.ObjectType, ev.Action, c.wantType, c.wantAction)
		}
	}

	// `when` and $object_type see the object name.
	m, err := mapping.Compile(mapping.Spec{Source: "hs", Kind: "hubspot", Preset: a.Preset(),
		When: `event.object_type == "deal"`,
		Rules: map[string]any{
			"destination": map[string]any{"value": "099 123 456"},
			"context":     map[string]any{"template": "crm-{{$object_type}}"},
			"agent":       map[string]any{"value": "1001"},
			"phone":       map[string]any{"value": "1001"},
			"callerid":    map[string]any{"value": "59829001234"},
			"outqueue":    map[string]any{"value": "Ventas->"},
		},
		Region: "UY"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]bool{0: false, 2: true} {
		res, err := m.Map(&b.Events[i])
		if err != nil {
			t.Fatal(err)
		}
		if res.Matched != want || (want && res.Params.Context != "crm-deal") {
			t.Errorf("event %d: matched %v, context %q", i, res.Matched, res.Params.Context)
		}
	}
}
