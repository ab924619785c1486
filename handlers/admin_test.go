package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"dialhook/internal/samples"
	"dialhook/store"
)

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := e.do(newReq(http.MethodGet, path, nil)); r.Status != http.StatusOK {
			t.Errorf("GET %s = %s", path, r)
		}
	}
	down := newEnv(t, envOptions{store: downStore{}})
	if r := down.do(newReq(http.MethodGet, "/healthz", nil)); r.Status != http.StatusOK {
		t.Errorf("GET /healthz with the store down = %s", r)
	}
	wantError(t, down.do(newReq(http.MethodGet, "/readyz", nil)), http.StatusServiceUnavailable, "store_unavailable")
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, envOptions{})
	wantStatus(t, e.do(postReq("/webhooks/generic", genericLead("m-1", "099 123 456"))), http.StatusAccepted, "queued")
	wantError(t, e.do(closeReq([]byte(`{"event":{"id":"x"}}`), testNow.Add(-10*time.Minute))), http.StatusUnauthorized, "unauthorized")
	r := e.do(newReq(http.MethodGet, "/metrics", nil))
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", r.Status)
	}
	for _, want := range []string{
		`dialhook_webhooks_total{outcome="queued",source="generic"} 1`,
		`dialhook_webhooks_total{outcome="unauthorized",source="close"} 1`,
		`dialhook_auth_failures_total{reason="stale timestamp",source="close"} 1`,
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	noSecrets(t, "/metrics", r.Body)
}

// adminPaths are the admin endpoints with a request that would succeed.
func adminPaths() []struct{ method, path string } {
	return []struct{ method, path string }{
		{http.MethodGet, "/events?state=placed"},
		{http.MethodGet, "/events/none"},
		{http.MethodGet, "/calls/none"},
		{http.MethodPost, "/events/none/redial"},
	}
}

func TestAdminAccess(t *testing.T) {
	t.Run("without token: loopback only", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		for _, p := range adminPaths() {
			wantError(t, e.do(newReq(p.method, p.path, nil)), http.StatusForbidden, "forbidden")
			// A forged header does not make a remote client local.
			wantError(t, e.do(newReq(p.method, p.path, nil, "X-Forwarded-For", "127.0.0.1")), http.StatusForbidden, "forbidden")
			if r := e.do(loopback(newReq(p.method, p.path, nil))); r.Status == http.StatusForbidden || r.Status == http.StatusUnauthorized {
				t.Errorf("%s %s from loopback = %s", p.method, p.path, r)
			}
			ipv6 := newReq(p.method, p.path, nil)
			ipv6.RemoteAddr = "[::1]:1234"
			if r := e.do(ipv6); r.Status == http.StatusForbidden {
				t.Errorf("%s %s from ::1 = %s", p.method, p.path, r)
			}
		}
		wantError(t, e.do(postReq("/webhooks/generic?dry_run=true", genericLead("d-1", "099 123 456"))), http.StatusForbidden, "forbidden")
	})
	t.Run("with token", func(t *testing.T) {
		e := newEnv(t, envOptions{adminToken: adminToken})
		for _, p := range adminPaths() {
			for _, auth := range []string{"", "Bearer guess", "Bearer " + adminToken + "x", "Basic " + adminToken, adminToken} {
				r := e.do(loopback(newReq(p.method, p.path, nil, "Authorization", auth)))
				wantError(t, r, http.StatusUnauthorized, "unauthorized")
				noSecrets(t, "answer", r.Body)
			}
			r := e.do(newReq(p.method, p.path, nil, "Authorization", "Bearer "+adminToken))
			if r.Status == http.StatusForbidden || r.Status == http.StatusUnauthorized {
				t.Errorf("%s %s with the token = %s", p.method, p.path, r)
			}
		}
		r := e.do(newReq(http.MethodGet, "/events?state=placed", nil, "Authorization", "Bearer "+adminToken))
		if r.Status != http.StatusOK {
			t.Errorf("GET /events with the token = %s", r)
		}
		wantError(t, e.do(loopback(postReq("/webhooks/generic?dry_run=true", genericLead("d-1", "099 123 456")))), http.StatusUnauthorized, "unauthorized")
		m := e.do(postReq("/webhooks/generic?dry_run=true", genericLead("d-1", "099 123 456"), "Authorization", "Bearer "+adminToken))
		if m.Status != http.StatusOK {
			t.Errorf("dry run with the token = %s", m)
		}
		noSecrets(t, "log", e.logText())
	})
}

func TestListEvents(t *testing.T) {
	e := newEnv(t, envOptions{})
	var rejected []string
	for _, id := range []string{"l-1", "l-2", "l-3"} {
		r := e.do(postReq("/webhooks/generic", genericLead(id, "12")))
		rejected = append(rejected, r.json(t)["event_id"].(string))
	}
	wantStatus(t, e.do(postReq("/webhooks/generic", genericLead("l-4", "099 123 456"))), http.StatusAccepted, "queued")
	e.settle()

	r := e.admin(http.MethodGet, "/events?state=rejected&limit=2")
	if r.Status != http.StatusOK {
		t.Fatalf("list = %s", r)
	}
	var out struct {
		State  string           `json:"state"`
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	if out.State != "rejected" || len(out.Events) != 2 {
		t.Fatalf("list = %s, want 2 rejected events", r.Body)
	}
	for _, ev := range out.Events {
		if ev["state"] != "rejected" || !contains(rejected, ev["id"].(string)) {
			t.Errorf("listed %v", ev)
		}
	}
	if n := len(e.list("rejected")); n != 3 {
		t.Errorf("%d rejected events, want 3", n)
	}
	if n := len(e.list("placed")); n != 2 { // l-4 and the marker
		t.Errorf("%d placed events, want 2", n)
	}
	if r := e.admin(http.MethodGet, "/events?state=failed"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"events":[]`) {
		t.Errorf("empty list = %s", r)
	}
	for _, q := range []string{"state=bogus", "", "state=PLACED"} {
		ed := wantError(t, e.admin(http.MethodGet, "/events?"+q), http.StatusBadRequest, "bad_state")
		// The message lists every state the endpoint accepts, and only those.
		msg := ed["message"].(string)
		for _, st := range store.States {
			if !strings.Contains(msg, string(st)) {
				t.Errorf("bad_state message %q omits %s", msg, st)
			}
		}
	}
	for _, st := range store.States {
		if r := e.admin(http.MethodGet, "/events?state="+string(st)); r.Status != http.StatusOK {
			t.Errorf("state=%s: %s", st, r)
		}
	}
	for _, l := range []string{"0", "1001", "x", "-1"} {
		wantError(t, e.admin(http.MethodGet, "/events?state=rejected&limit="+l), http.StatusBadRequest, "bad_limit")
	}
	wantError(t, e.admin(http.MethodGet, "/events/nope"), http.StatusNotFound, "not_found")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestRedialAndCalls(t *testing.T) {
	stores(t, func(t *testing.T, redis bool) {
		e := newEnv(t, envOptions{redis: redis})
		placed := wantStatus(t, e.do(postReq("/webhooks/generic?wait=5s", genericLead("r-1", "099 123 456"))), http.StatusOK, "placed")
		refused := wantStatus(t, e.do(postReq("/webhooks/generic?wait=5s", genericLead("r-2", rejectDest))), http.StatusOK, "rejected")
		pid, rid := placed["event_id"].(string), refused["event_id"].(string)

		// GET /calls/{guid} finds the event.
		guid := placed["call_guid"].(string)
		r := e.admin(http.MethodGet, "/calls/"+guid)
		if r.Status != http.StatusOK || r.json(t)["id"] != pid {
			t.Errorf("GET /calls/%s = %s", guid, r)
		}
		wantError(t, e.admin(http.MethodGet, "/calls/00000000-0000-4000-8000-000000000000"), http.StatusNotFound, "not_found")

		// A placed event is not redialed.
		wantError(t, e.admin(http.MethodPost, "/events/"+pid+"/redial"), http.StatusConflict, "not_redialable")
		wantError(t, e.admin(http.MethodPost, "/events/nope/redial"), http.StatusNotFound, "not_found")

		// A rejected one is, exactly once per request.
		m := wantStatus(t, e.admin(http.MethodPost, "/events/"+rid+"/redial"), http.StatusAccepted, "queued")
		if m["event_id"] != rid {
			t.Errorf("redial answer %v", m)
		}
		rec := e.waitState(rid, "rejected")
		if rec["attempts"] != 2.0 {
			t.Errorf("record %v, want 2 attempts", rec)
		}
		redials, _ := rec["redials"].([]any)
		if len(redials) != 1 || redials[0].(map[string]any)["client"] != "127.0.0.1" {
			t.Errorf("redials %v, want one from 127.0.0.1", rec["redials"])
		}
		e.wantCalls(call{"59899123456", "1007"}, call{rejectDest, "1007"}, call{rejectDest, "1007"})

		// A mapping rejection is not: its parameters are incomplete (here
		// no destination), so dialing them would call nobody.
		r = e.do(postReq("/webhooks/generic", genericLead("r-3", "12")))
		mid := r.json(t)["event_id"].(string)
		wantError(t, e.admin(http.MethodPost, "/events/"+mid+"/redial"), http.StatusConflict, "not_redialable")
		if rec := e.event(mid); rec["state"] != "rejected" || rec["redials"] != nil {
			t.Errorf("record %v, want still rejected without redials", rec)
		}
		e.wantCalls(call{"59899123456", "1007"}, call{rejectDest, "1007"}, call{rejectDest, "1007"})
	})
}

func TestDryRun(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := samples.Body(samples.HubSpotWorkflowContact)
	// An admin replays the CRM's own request, signed for the URL HubSpot
	// called, and adds ?dry_run=true: dialhook's own parameters are not
	// part of what the CRM signed.
	req := loopback(postReq("/webhooks/hubspot?dry_run=true", body, "Content-Type", "application/json",
		"X-HubSpot-Signature-v3", hsV3(hsURI+"hubspot", body, unixMs(testNow)), "X-HubSpot-Request-Timestamp", unixMs(testNow)))
	dr := e.do(req)
	if dr.Status != http.StatusOK {
		t.Fatalf("dry run = %s", dr)
	}
	var view struct {
		Source string `json:"source"`
		Kind   string `json:"kind"`
		Note   string `json:"note"`
		Events []struct {
			WouldBe   string            `json:"would_be"`
			DedupKey  string            `json:"dedup_key"`
			Params    map[string]string `json:"params"`
			Decisions []string          `json:"decisions"`
			Normal    struct {
				RecordID string          `json:"record_id"`
				Record   json.RawMessage `json:"record"`
			} `json:"normalized"`
		} `json:"events"`
	}
	if err := json.Unmarshal(dr.Body, &view); err != nil {
		t.Fatal(err)
	}
	if view.Source != "hubspot" || view.Kind != "hubspot" || len(view.Events) != 1 {
		t.Fatalf("dry run = %s", dr.Body)
	}
	ev := view.Events[0]
	if ev.WouldBe != "queued" || ev.Params["destination"] != "59899123456" || ev.Params["agent"] != "1002" ||
		len(ev.Decisions) == 0 || ev.Normal.RecordID != "4051" || !strings.HasPrefix(ev.DedupKey, "4051:") {
		t.Errorf("dry run event %+v", ev)
	}

	// A mapping failure is explained, not recorded.
	dr = e.do(loopback(postReq("/webhooks/bare?dry_run=true", []byte(`{"event_id":"x"}`))))
	if dr.Status != http.StatusOK || !strings.Contains(string(dr.Body), `"would_be":"rejected"`) || !strings.Contains(string(dr.Body), `"errors":{`) {
		t.Errorf("dry run of a failing mapping = %s", dr)
	}
	// Bad credentials still fail.
	bad := loopback(postReq("/webhooks/hubspot?dry_run=true", body, "X-HubSpot-Signature", "00", "X-HubSpot-Signature-Version", "v1"))
	wantError(t, e.do(bad), http.StatusUnauthorized, "unauthorized")

	// Nothing was recorded or dialed: the real delivery is new.
	for _, s := range []string{"queued", "placed", "rejected"} {
		if n := len(e.list(s)); n != 0 {
			t.Errorf("%d %s events after dry runs", n, s)
		}
	}
	wantStatus(t, e.do(hubspotV3Req("hubspot", body, testNow)), http.StatusAccepted, "queued")
	e.wantCalls(call{"59899123456", "1002"})
}
