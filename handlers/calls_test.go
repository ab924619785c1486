package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"dialhook/internal/samples"
)

// uContact's event notifications, end to end on the in-memory store: a
// webhook is dialed (the fake uContact answers a GUID), then uContact says
// the interaction finished: the event is completed; a redelivery changes
// nothing; an unknown GUID is unmatched; other events are ignored.
func TestUContactEventsCloseTheLoop(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(postReq("/webhooks/flow?token="+samples.GenericToken, samples.Body(samples.GenericCall), "Content-Type", "application/json"))
	id, _ := r.json(t)["event_id"].(string)
	placed := e.waitState(id, "placed")
	guid, _ := placed["call_guid"].(string)

	post := func(body string, hdr ...string) map[string]any {
		t.Helper()
		r := e.do(postReq("/webhooks/uc", []byte(body), append([]string{"Content-Type", "application/json"}, hdr...)...))
		if r.Status != http.StatusOK {
			t.Fatalf("%s → %s", body, r)
		}
		return r.json(t)
	}
	auth := []string{"X-Dialhook-Token", ucEventsToken}
	finish := fmt.Sprintf(`{"event":"FinishInteraction","date":"2023-48-13 06:48:51","guid":%q,"campaign":"Ventas->","agent":"1001"}`, strings.ToUpper(guid))
	for i, tc := range []struct {
		body   string
		status string
	}{
		{fmt.Sprintf(`{"event":"InteractionDisposition","date":"2023-49-13 06:49:00","guid":%q,"l1":"Venta","comment":"ok"}`, guid), "disposed"},
		{finish, "completed"},
		{finish, "duplicate"},
		{`{"event":"FinishInteraction","date":"x","guid":"00000000-0000-0000-0000-000000000000"}`, "unmatched"},
		{`{"event":"AgentLog","date":"2023-16-13 05:16:22","agent":"agentTest","isLogin":true}`, "ignored"},
	} {
		if got := post(tc.body, auth...); got["status"] != tc.status {
			t.Errorf("step %d: %v, want status %s", i, got, tc.status)
		}
	}
	ev := e.event(id)
	call, _ := ev["call"].(map[string]any)
	if ev["state"] != "completed" || call["ended_by"] != "FinishInteraction" || call["finished_at"] == nil || call["disposition"] == nil {
		t.Errorf("event after FinishInteraction = %v", ev)
	}
	if r := e.do(postReq("/webhooks/uc", []byte(finish), "Content-Type", "application/json")); r.Status != http.StatusUnauthorized {
		t.Errorf("without the token: %s", r)
	}
	if r := e.do(postReq("/webhooks/uc?token="+ucEventsToken, []byte(finish))); r.Status != http.StatusOK {
		t.Errorf("token in the URL: %s", r)
	}
	if list := e.list("completed"); len(list) != 1 {
		t.Errorf("GET /events?state=completed = %v", list)
	}
}
