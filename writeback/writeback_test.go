package writeback

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"dialhook/crmapi"
	"dialhook/notify"
	"dialhook/store"
	"dialhook/ucontact"
)

type seen struct {
	method, path string
	body         map[string]any
}

func fakeCRM(t *testing.T, status int, answer string) (*httptest.Server, func() []seen) {
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), got...) }
}

func event() *store.Event {
	return &store.Event{ID: "e1", Source: "pd", ObjectType: "person", RecordID: "42", CallGUID: "0f4e1d1a-51a3-4b8e-9d29-3c1f0a3b2c4d",
		UpdatedAt: time.Now(), Params: ucontact.Params{Agent: "1001", Destination: "59899123456"}}
}

// Pipedrive: an open call activity on the person when placed, marked done
// with the outcome by the id kept from the first attempt.
func TestPipedriveActivityThenDone(t *testing.T) {
	srv, got := fakeCRM(t, http.StatusOK, `{"success":true,"data":{"id":777}}`)
	h := &Pipedrive{Source: "pd", API: &crmapi.Pipedrive{BaseURL: srv.URL, Token: "pd-token-123456", Client: srv.Client()}}
	ev := event()
	if !h.Wants(notify.EventPlaced, ev) || h.Wants(notify.EventPlaced, &store.Event{Source: "other"}) || h.Wants(notify.EventFailed, ev) {
		t.Fatal("Wants")
	}
	a, ref := h.Deliver(context.Background(), notify.EventPlaced, ev)
	if a.Outcome != notify.Delivered || ref != "777" {
		t.Fatalf("placed: %+v %q", a, ref)
	}
	ev.Notifications = []store.NotifyAttempt{{Endpoint: h.Name(), Ref: ref, Outcome: "delivered"}}
	a, ref = h.Deliver(context.Background(), notify.CallCompleted, ev)
	reqs := got()
	if a.Outcome != notify.Delivered || ref != "777" || len(reqs) != 2 {
		t.Fatalf("completed: %+v %q %v", a, ref, reqs)
	}
	if reqs[0].method != http.MethodPost || reqs[0].body["type"] != "call" || reqs[1].method != http.MethodPatch ||
		reqs[1].path != "/api/v2/activities/777" || reqs[1].body["done"] != true {
		t.Errorf("requests = %+v", reqs)
	}
}

// A refused token is not retried; a CRM that is down is.
func TestWritebackOutcomes(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   notify.Outcome
	}{{http.StatusUnauthorized, notify.Failed}, {http.StatusForbidden, notify.Failed}, {http.StatusServiceUnavailable, notify.Retry}} {
		srv, _ := fakeCRM(t, tc.status, `{"message":"no"}`)
		h := &HubSpot{Source: "pd", API: &crmapi.HubSpot{BaseURL: srv.URL, Token: "pat-secret-token", Client: srv.Client()}}
		ev := event()
		ev.ObjectType = "contact"
		a, ref := h.Deliver(context.Background(), notify.EventPlaced, ev)
		if a.Outcome != tc.want || ref != "" || a.Status != tc.status {
			t.Errorf("%d: %+v %q", tc.status, a, ref)
		}
	}
}
