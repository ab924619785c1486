package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"dialhook/intake"
	"dialhook/internal/samples"
	"dialhook/store"
)

// Refused deliveries (401, 404, 413, 422 without an event) reach the
// console's refusal log, masked; an accepted event keeps its request.
func TestRefusalsAndRequestsKeptForTheConsole(t *testing.T) {
	st := store.NewMemory(store.MemoryOptions{Retention: time.Hour, Now: func() time.Time { return testNow }})
	rec := intake.NewRecorder(st, nil)
	e := newEnv(t, envOptions{store: st, recorder: rec, keepRequests: true, maxBody: 4 << 10})

	body := samples.Body(samples.HubSpotWorkflowContact)
	bad := hubspotV3Req("hubspot", body, testNow)
	bad.Header.Set("X-HubSpot-Signature-v3", "bm90LXRoZS1zaWduYXR1cmU=")
	if r := e.do(bad); r.Status != http.StatusUnauthorized {
		t.Fatalf("bad signature = %s", r)
	}
	if r := e.do(postReq("/webhooks/nosuch", []byte(`{}`))); r.Status != http.StatusNotFound {
		t.Fatalf("unknown source = %s", r)
	}
	if r := e.do(postReq("/webhooks/generic", []byte(strings.Repeat("x", 5<<10)))); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large = %s", r)
	}
	ok := e.do(postReq("/webhooks/flow?token="+samples.GenericToken, samples.Body(samples.GenericCall), "Content-Type", "application/json"))
	if ok.Status != http.StatusAccepted {
		t.Fatalf("generic = %s", ok)
	}
	rec.Flush(context.Background())

	refused, err := st.Refused(context.Background(), "", 10)
	if err != nil || len(refused) != 3 {
		t.Fatalf("refused = %+v %v, want 3", refused, err)
	}
	byStatus := map[int]store.Refusal{}
	for _, r := range refused {
		byStatus[r.Status] = r
	}
	hs := byStatus[http.StatusUnauthorized]
	if hs.Source != "hubspot" || !strings.Contains(hs.Reason, "scheme") || hs.Request.Body == "" {
		t.Errorf("hubspot refusal = %+v", hs)
	}
	if strings.Contains(hs.Request.Headers["X-Hubspot-Signature-V3"], "bm90") {
		t.Errorf("the refusal keeps the signature sent: %v", hs.Request.Headers)
	}
	if r := byStatus[http.StatusNotFound]; r.Source != intake.UnknownSource || !strings.Contains(r.Reason, "nosuch") {
		t.Errorf("unknown source refusal = %+v", r)
	}
	if r := byStatus[http.StatusRequestEntityTooLarge]; r.Source != "generic" {
		t.Errorf("413 refusal = %+v", r)
	}
	id, _ := ok.json(t)["event_id"].(string)
	ev, err := st.Get(context.Background(), id)
	if err != nil || ev.Request == nil || strings.Contains(ev.Request.Path, samples.GenericToken) || !strings.Contains(ev.Request.Path, "token=***") {
		t.Fatalf("kept request = %+v %v", ev.Request, err)
	}
	act, _ := st.Activity(context.Background(), []string{"flow", "hubspot"}, testNow)
	if act["flow"].Accepted != 1 || act["hubspot"].Refused != 1 {
		t.Errorf("activity = %+v", act)
	}
}
