package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/google/uuid"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"dialhook/internal/samples"
	"dialhook/store"
)

// genericLead is a generic body that maps with the test routes.
func genericLead(id, dest string) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"destination":%q,"owner":"ana@example.com"}`, id, dest)
}

// downStore is a store that cannot be reached.
type downStore struct{}

func (downStore) Accept(context.Context, []store.Submission) ([]store.Accepted, error) {
	return nil, fmt.Errorf("%w: connection refused", store.ErrUnavailable)
}
func (downStore) Get(context.Context, string) (*store.Event, error) { return nil, store.ErrUnavailable }
func (downStore) GetByGUID(context.Context, string) (*store.Event, error) {
	return nil, store.ErrUnavailable
}
func (downStore) List(context.Context, store.ListQuery) (store.Page, error) {
	return store.Page{}, store.ErrUnavailable
}
func (downStore) NewEventID(string) string { return uuid.NewString() }
func (downStore) Redial(context.Context, string, store.Redial) (*store.Event, error) {
	return nil, store.ErrUnavailable
}
func (downStore) Ping(context.Context) error  { return store.ErrUnavailable }
func (downStore) Ready(context.Context) error { return store.ErrUnavailable }
func (downStore) RecordCallEvent(context.Context, store.CallEvent) (*store.Event, store.CallResult, error) {
	return nil, "", store.ErrUnavailable
}
func (downStore) Lookup(context.Context, string) (*store.Event, error) {
	return nil, store.ErrUnavailable
}

// closedRedis is a Redis store whose server is not listening.
func closedRedis(t *testing.T) *store.Redis {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	rs, err := store.OpenRedis(context.Background(), "redis://"+addr+"/0", store.RedisOptions{Namespace: "closed"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	return rs
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, envOptions{maxBody: 256})
	big := genericLead("big-"+strings.Repeat("x", 300), "099 123 456")
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("content length known %v", known), func(t *testing.T) {
			req := postReq("/webhooks/generic", big, "Content-Type", "application/json")
			if !known {
				req.ContentLength = -1 // chunked: only reading finds out
			}
			wantError(t, e.do(req), http.StatusRequestEntityTooLarge, "body_too_large")
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		body := genericLead("small", "099 123 456")
		body = append(body, bytes.Repeat([]byte(" "), 256-len(body))...)
		wantStatus(t, e.do(postReq("/webhooks/generic", body)), http.StatusAccepted, "queued")
	})
	e.wantCalls(call{"59899123456", "1007"})
}

func TestGenericErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	t.Run("malformed JSON", func(t *testing.T) {
		wantError(t, e.do(postReq("/webhooks/generic", []byte(`{"event_id":`))), http.StatusBadRequest, "malformed")
		wantError(t, e.do(postReq("/webhooks/generic", nil)), http.StatusBadRequest, "malformed")
	})
	t.Run("missing parameters", func(t *testing.T) {
		r := e.do(postReq("/webhooks/bare", []byte(`{"event_id":"m-1"}`)))
		ed := wantError(t, r, http.StatusUnprocessableEntity, "mapping_failed")
		fields, _ := ed["fields"].(map[string]any)
		for _, f := range []string{"callerid", "agent", "phone", "context", "outqueue", "destination"} {
			if fields[f] == nil {
				t.Errorf("fields %v do not name %s", fields, f)
			}
		}
		if fields["tech"] != nil {
			t.Errorf("tech has a fallback, yet fields name it: %v", fields)
		}
		id, _ := r.json(t)["event_id"].(string)
		if rec := e.event(id); rec["state"] != "rejected" || rec["error_kind"] != "mapping_failed" {
			t.Errorf("record %v, want rejected by mapping", rec)
		}
	})
	t.Run("unknown source", func(t *testing.T) {
		ed := wantError(t, e.do(postReq("/webhooks/nope", genericLead("u-1", "099 123 456"))), http.StatusNotFound, "unknown_source")
		if !strings.Contains(ed["message"].(string), `"nope"`) {
			t.Errorf("message %q does not name the source", ed["message"])
		}
	})
	t.Run("bad wait", func(t *testing.T) {
		for _, w := range []string{"bad", "-1s"} {
			wantError(t, e.do(postReq("/webhooks/generic?wait="+w, genericLead("w-"+w, "099 123 456"))), http.StatusBadRequest, "bad_wait")
		}
	})
	// Unmatched routes answer 404/405 to anyone, not the admin check's
	// 403 (regression: the admin group's middleware caught every path).
	t.Run("method not allowed", func(t *testing.T) {
		wantError(t, e.do(newReq(http.MethodGet, "/webhooks/generic", nil)), http.StatusMethodNotAllowed, "method_not_allowed")
		wantError(t, e.do(newReq(http.MethodDelete, "/events/x", nil)), http.StatusMethodNotAllowed, "method_not_allowed")
	})
	t.Run("unknown path", func(t *testing.T) {
		for _, p := range []string{"/", "/nope", "/events/x/y", "/webhooks"} {
			wantError(t, e.do(newReq(http.MethodGet, p, nil)), http.StatusNotFound, "not_found")
		}
	})
	e.wantCalls()
}

func TestStoreUnavailable(t *testing.T) {
	for name, st := range map[string]func(t *testing.T) envOptions{
		"fake":          func(*testing.T) envOptions { return envOptions{store: downStore{}} },
		"redis stopped": func(t *testing.T) envOptions { return envOptions{store: closedRedis(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, st(t))
			r := e.do(postReq("/webhooks/generic", genericLead("down-1", "099 123 456")))
			wantError(t, r, http.StatusServiceUnavailable, "store_unavailable")
			wantSOAP(t, e.do(sfReq(samples.Body(samples.SalesforceOutboundLead))), http.StatusServiceUnavailable, "soapenv:Server")
			wantError(t, e.do(newReq(http.MethodGet, "/readyz", nil)), http.StatusServiceUnavailable, "store_unavailable")
			if r := e.do(newReq(http.MethodGet, "/healthz", nil)); r.Status != http.StatusOK {
				t.Errorf("/healthz = %s", r)
			}
			wantError(t, e.admin(http.MethodGet, "/events/x"), http.StatusServiceUnavailable, "store_unavailable")
		})
	}
}

func TestQueueFull(t *testing.T) {
	stores(t, func(t *testing.T, redis bool) {
		e := newEnv(t, envOptions{redis: redis, queueMax: 1, noDispatcher: true})
		wantStatus(t, e.do(postReq("/webhooks/generic", genericLead("q-1", "099 111 111"))), http.StatusAccepted, "queued")
		var r *response
		for i := 2; i <= 3; i++ { // the limit is "above", so allow one more
			r = e.do(postReq("/webhooks/generic", genericLead(fmt.Sprintf("q-%d", i), "099 111 111")))
			if r.Status == http.StatusServiceUnavailable {
				break
			}
		}
		wantError(t, r, http.StatusServiceUnavailable, "queue_full")
		if ra := r.Header.Get("Retry-After"); ra == "" {
			t.Error("queue_full answer has no Retry-After")
		}
	})
}

func TestWait(t *testing.T) {
	stores(t, func(t *testing.T, redis bool) {
		e := newEnv(t, envOptions{redis: redis})
		t.Run("placed", func(t *testing.T) {
			m := wantStatus(t, e.do(postReq("/webhooks/generic?wait=5s", genericLead("w-1", "099 123 456"))), http.StatusOK, "placed")
			ev, _ := m["event"].(map[string]any)
			guid, _ := m["call_guid"].(string)
			if guid == "" || ev["state"] != "placed" || ev["call_guid"] != guid || ev["id"] != m["event_id"] {
				t.Fatalf("answer %v, want the placed record with its GUID", m)
			}
			if calls := e.fake.calls(); len(calls) != 1 || calls[0].Get("destination") != "59899123456" {
				t.Errorf("AgentCalls %v", calls)
			}
			if got := e.fake.answers()[0]; got != guid {
				t.Errorf("GUID %s, uContact answered %s", guid, got)
			}
		})
		t.Run("rejected by uContact", func(t *testing.T) {
			m := wantStatus(t, e.do(postReq("/webhooks/generic?wait=5s", genericLead("w-2", rejectDest))), http.StatusOK, "rejected")
			if m["call_guid"] != nil {
				t.Errorf("rejected call has a GUID: %v", m)
			}
		})
		t.Run("duplicate does not wait", func(t *testing.T) {
			wantStatus(t, e.do(postReq("/webhooks/generic?wait=5s", genericLead("w-1", "099 123 456"))), http.StatusOK, "duplicate")
		})
		e.wantCalls(call{"59899123456", "1007"}, call{rejectDest, "1007"})
	})
	t.Run("still pending", func(t *testing.T) {
		e := newEnv(t, envOptions{noDispatcher: true})
		wantStatus(t, e.do(postReq("/webhooks/generic?wait=50ms", genericLead("w-3", "099 123 456"))), http.StatusAccepted, "queued")
	})
}

func TestIdempotencyKey(t *testing.T) {
	stores(t, func(t *testing.T, redis bool) {
		e := newEnv(t, envOptions{redis: redis})
		body := func(dest string) []byte {
			return fmt.Appendf(nil, `{"destination":%q,"owner":"ana@example.com"}`, dest)
		}
		first := wantStatus(t, e.do(postReq("/webhooks/generic", body("099 111 222"), "Idempotency-Key", "k-1")), http.StatusAccepted, "queued")
		// The same key with another body is the same event.
		dup := wantStatus(t, e.do(postReq("/webhooks/generic", body("099 333 444"), "Idempotency-Key", "k-1")), http.StatusOK, "duplicate")
		if dup["event_id"] != first["event_id"] {
			t.Errorf("duplicate of %v, want %v", dup["event_id"], first["event_id"])
		}
		// Another key with the first body is a new event.
		wantStatus(t, e.do(postReq("/webhooks/generic", body("099 111 222"), "Idempotency-Key", "k-2")), http.StatusAccepted, "queued")
		// Without a key, the event_id field, else the body hash, is the key.
		wantStatus(t, e.do(postReq("/webhooks/generic", body("099 555 666"))), http.StatusAccepted, "queued")
		wantStatus(t, e.do(postReq("/webhooks/generic", body("099 555 666"))), http.StatusOK, "duplicate")
		e.wantCalls(call{"59899111222", "1007"}, call{"59899111222", "1007"}, call{"59899555666", "1007"})
		if rec := e.event(first["event_id"].(string)); rec["dedup_key"] != "k-1" || rec["duplicates"] != 1.0 {
			t.Errorf("record %v, want dedup key k-1 and one duplicate", rec)
		}
	})
}

func TestWhenIgnored(t *testing.T) {
	e := newEnv(t, envOptions{})
	m := wantStatus(t, e.do(postReq("/webhooks/gated", []byte(`{"event_id":"g-1","priority":"low","destination":"099 123 456","owner":"ana@example.com"}`))),
		http.StatusOK, "ignored")
	if rec := e.event(m["event_id"].(string)); rec["state"] != "ignored" {
		t.Errorf("record %v, want ignored", rec)
	}
	wantStatus(t, e.do(postReq("/webhooks/gated", []byte(`{"event_id":"g-2","priority":"high","destination":"099 765 432","owner":"ana@example.com"}`))),
		http.StatusAccepted, "queued")
	e.wantCalls(call{"59899765432", "1007"})
}

func TestCooldown(t *testing.T) {
	stores(t, func(t *testing.T, redis bool) {
		e := newEnv(t, envOptions{redis: redis})
		wantStatus(t, e.do(postReq("/webhooks/cool", genericLead("c-1", "099 123 456"))), http.StatusAccepted, "queued")
		// Written differently, the same number.
		m := wantStatus(t, e.do(postReq("/webhooks/cool", genericLead("c-2", "+598 99 123 456"))), http.StatusOK, "suppressed")
		if rec := e.event(m["event_id"].(string)); rec["state"] != "suppressed" {
			t.Errorf("record %v, want suppressed", rec)
		}
		wantStatus(t, e.do(postReq("/webhooks/cool", genericLead("c-3", "099 765 432"))), http.StatusAccepted, "queued")
		e.wantCalls(call{"59899123456", "1007"}, call{"59899765432", "1007"})
	})
}

func TestCallWindow(t *testing.T) {
	e := newEnv(t, envOptions{})
	m := wantStatus(t, e.do(postReq("/webhooks/windowed", genericLead("win-1", "099 123 456"))), http.StatusAccepted, "scheduled")
	want := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC).Format(time.RFC3339)
	if m["due_at"] != want {
		t.Errorf("due_at %v, want %s", m["due_at"], want)
	}
	if rec := e.event(m["event_id"].(string)); rec["state"] != "scheduled" || rec["due_at"] != want {
		t.Errorf("record %v, want scheduled at %s", rec, want)
	}
	// A redelivery is a duplicate of the scheduled event.
	wantStatus(t, e.do(postReq("/webhooks/windowed", genericLead("win-1", "099 123 456"))), http.StatusOK, "duplicate")
	e.wantCalls()
}

// TestWebhookLog: one line per webhook with event_id, source, outcome and
// latency, and no secret anywhere in the log.
func TestWebhookLog(t *testing.T) {
	e := newEnv(t, envOptions{})
	m := wantStatus(t, e.do(postReq("/webhooks/flow", genericLead("log-1", "099 123 456"), "X-Dialhook-Token", samples.GenericToken)), http.StatusAccepted, "queued")
	wantError(t, e.do(postReq("/webhooks/flow?token=guess", genericLead("log-2", "099 123 456"))), http.StatusUnauthorized, "unauthorized")
	wantError(t, e.do(postReq("/webhooks/zoho", samples.ZohoWithoutToken(samples.ZohoLeadJSON), "X-Dialhook-Token", "guess-"+samples.ZohoToken[:4])), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, e.do(hubspotV3Req("hubspot", samples.Body(samples.HubSpotWorkflowContact), testNow)), http.StatusAccepted, "queued")
	e.wantCalls(call{"59899123456", "1007"}, call{"59899123456", "1002"})

	lines := e.logs.FilterMessage("webhook").All()
	if len(lines) < 4 {
		t.Fatalf("%d webhook log lines, want at least 4", len(lines))
	}
	found := false
	for _, l := range lines {
		f := l.ContextMap()
		for _, k := range []string{"source", "outcome", "latency", "status"} {
			if _, ok := f[k]; !ok {
				t.Errorf("webhook line %v has no %s", f, k)
			}
		}
		if f["event_id"] == m["event_id"] {
			found = true
			if f["source"] != "flow" || f["outcome"] != "queued" || f["status"] != int64(202) {
				t.Errorf("webhook line %v", f)
			}
			if _, ok := f["latency"].(time.Duration); !ok {
				t.Errorf("latency %T, want a duration", f["latency"])
			}
		}
		if f["outcome"] == "unauthorized" && (f["source"] == "" || f["reason"] == nil) {
			t.Errorf("401 line %v has no source or reason", f)
		}
	}
	if !found {
		t.Errorf("no webhook line for event %v", m["event_id"])
	}
	noSecrets(t, "log", e.logText(), hsV3(hsURI+"hubspot", samples.Body(samples.HubSpotWorkflowContact), unixMs(testNow)))
}
