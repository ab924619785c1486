package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap/zapcore"

	"dialhook/handlers"
	"dialhook/internal/testredis"
	"dialhook/store"
)

// A generic event whose mapping fails can be fixed and sent again with the
// same event id: a still-broken redelivery says what it duplicates and why
// it still fails; the fixed one takes the claim over and is dialed once.
func TestRejectedEventCanBeFixed(t *testing.T) {
	stores(t, func(t *testing.T, redis bool) {
		e := newEnv(t, envOptions{redis: redis})
		broken := []byte(`{"event_id":"lead-fix","owner":"ana@example.com"}`)
		r := e.do(postReq("/webhooks/generic", broken))
		wantError(t, r, http.StatusUnprocessableEntity, "mapping_failed")
		first := r.json(t)["event_id"].(string)

		r = e.do(postReq("/webhooks/generic", broken))
		ed := wantError(t, r, http.StatusUnprocessableEntity, "mapping_failed")
		dup, _ := r.json(t)["duplicate_of"].(map[string]any)
		if dup["event_id"] != first || dup["state"] != "rejected" || dup["error_kind"] != "mapping_failed" {
			t.Errorf("still broken redelivery: duplicate_of %v", dup)
		}
		if f, _ := ed["fields"].(map[string]any); f["destination"] == nil {
			t.Errorf("still broken redelivery names no field: %s", r.Body)
		}

		m := wantStatus(t, e.do(postReq("/webhooks/generic", genericLead("lead-fix", "099 123 456"))), http.StatusAccepted, "queued")
		fixed := m["event_id"].(string)
		if fixed == first || m["supersedes"] != first {
			t.Fatalf("fixed redelivery = %v, want a new event superseding %s", m, first)
		}
		e.wantCalls([2]string{"59899123456", "1007"})
		m = wantStatus(t, e.do(postReq("/webhooks/generic", genericLead("lead-fix", "099 123 456"))), http.StatusOK, "duplicate")
		if dup, _ := m["duplicate_of"].(map[string]any); m["event_id"] != fixed || dup["state"] != "placed" || dup["call_guid"] == "" {
			t.Errorf("redelivery after the call = %v", m)
		}
		// The old, broken body sent again: the claim's holder is now the
		// placed event, not a rejection, so this is a duplicate of it.
		m = wantStatus(t, e.do(postReq("/webhooks/generic", broken)), http.StatusOK, "duplicate")
		if dup, _ := m["duplicate_of"].(map[string]any); m["event_id"] != fixed || dup["event_id"] != fixed || dup["state"] != "placed" {
			t.Errorf("the broken body after the fix = %v", m)
		}
		if old := e.event(first); old["superseded_by"] != fixed || old["state"] != "rejected" {
			t.Errorf("the rejected record = %v", old)
		}
		ed = wantError(t, e.admin(http.MethodPost, "/events/"+first+"/redial"), http.StatusConflict, "not_redialable")
		if !strings.Contains(ed["message"].(string), "send the event again") {
			t.Errorf("redial refusal does not say what to do: %v", ed["message"])
		}
		e.wantCalls([2]string{"59899123456", "1007"})
	})
}

// A request that came through a proxy or tunnel on this host (ngrok) is not
// a loopback client, whatever its peer address.
func TestAdminNotThroughProxy(t *testing.T) {
	e := newEnv(t, envOptions{})
	m := wantStatus(t, e.do(postReq("/webhooks/generic", genericLead("px-1", "099 123 456"))), http.StatusAccepted, "queued")
	id := m["event_id"].(string)
	paths := []struct{ method, path string }{
		{http.MethodGet, "/events?state=placed"},
		{http.MethodGet, "/events/" + id},
		{http.MethodGet, "/calls/none"},
		{http.MethodPost, "/events/" + id + "/redial"},
		{http.MethodPost, "/webhooks/generic?dry_run=true"},
	}
	headers := [][2]string{
		{"X-Forwarded-For", "203.0.113.5"}, {"X-Forwarded-Host", "abc.ngrok-free.app"}, {"X-Forwarded-Proto", "https"},
		{"Forwarded", "for=203.0.113.5"}, {"X-Real-IP", "203.0.113.5"}, {"Ngrok-Trace-Id", "abc"}, {"Via", "1.1 proxy"},
	}
	for _, p := range paths {
		for _, h := range headers {
			req := loopback(newReq(p.method, p.path, genericLead("px-2", "099 123 456"), h[0], h[1]))
			wantError(t, e.do(req), http.StatusForbidden, "forbidden")
		}
	}
	if r := e.admin(http.MethodGet, "/events?state=queued"); r.Status != http.StatusOK {
		t.Errorf("a direct loopback client is refused: %s", r)
	}
	e.settle()
	if n := len(e.fake.calls()); n != 1 {
		t.Errorf("%d calls, want 1: a proxied redial placed a call", n)
	}
}

// The Bearer scheme is case-insensitive (RFC 9110).
func TestBearerSchemeCase(t *testing.T) {
	e := newEnv(t, envOptions{adminToken: adminToken})
	for _, h := range []string{"Bearer " + adminToken, "bearer " + adminToken, "BEARER  " + adminToken} {
		if r := e.do(newReq(http.MethodGet, "/events?state=queued", nil, "Authorization", h)); r.Status != http.StatusOK {
			t.Errorf("Authorization %q = %s", h, r)
		}
	}
	for _, h := range []string{"Basic " + adminToken, "Bearer", "Bearer x" + adminToken, adminToken} {
		wantError(t, e.do(newReq(http.MethodGet, "/events?state=queued", nil, "Authorization", h)), http.StatusUnauthorized, "unauthorized")
	}
}

// fullStore is a store out of memory: it answers, but refuses writes.
type fullStore struct{ downStore }

func (fullStore) Accept(context.Context, []store.Submission) ([]store.Accepted, error) {
	return nil, fmt.Errorf("%w: OOM command not allowed", store.ErrFull)
}
func (fullStore) Ready(context.Context) error {
	return fmt.Errorf("%w: used_memory >= maxmemory", store.ErrFull)
}

func TestStoreFull(t *testing.T) {
	e := newEnv(t, envOptions{store: fullStore{}})
	r := e.do(postReq("/webhooks/generic", genericLead("full-1", "099 123 456")))
	wantError(t, r, http.StatusServiceUnavailable, "store_full")
	if r.Header.Get("Retry-After") == "" {
		t.Error("store_full answer has no Retry-After")
	}
	ed := wantError(t, e.do(newReq(http.MethodGet, "/readyz", nil)), http.StatusServiceUnavailable, "store_full")
	if !strings.Contains(ed["message"].(string), "maxmemory") {
		t.Errorf("readyz does not say why: %v", ed["message"])
	}
}

// The in-memory store full of pending events names memory_max_events in
// its 503 (the process is not out of memory).
func TestMemoryStoreFull(t *testing.T) {
	e := newEnv(t, envOptions{store: store.NewMemory(store.MemoryOptions{MaxEvents: 2})})
	for i := range 2 {
		wantStatus(t, e.do(postReq("/webhooks/generic", genericLead(fmt.Sprint("mfull-", i), "099 123 456"))), http.StatusAccepted, "queued")
	}
	r := e.do(postReq("/webhooks/generic", genericLead("mfull-2", "099 123 456")))
	want := "the in-memory store holds memory_max_events (2) events"
	for _, r := range []*response{r, e.do(newReq(http.MethodGet, "/readyz", nil))} {
		ed := wantError(t, r, http.StatusServiceUnavailable, "store_full")
		if msg := ed["message"].(string); !strings.Contains(msg, want) || strings.Contains(msg, "out of memory") {
			t.Errorf("message %q, want it to name memory_max_events", msg)
		}
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("store_full answer has no Retry-After")
	}
}

// An event evicted from the in-memory store by memory_max_events keeps its
// dedup claim: its redelivery is a 200 duplicate, never a second call.
func TestMemoryEvictedRedeliveryIsDuplicate(t *testing.T) {
	e := newEnv(t, envOptions{maxEvents: 3})
	var p1 string
	for i := 1; i <= 5; i++ {
		r := wantStatus(t, e.do(postReq("/webhooks/generic", genericLead(fmt.Sprint("p", i), fmt.Sprint("09912345", i)))), http.StatusAccepted, "queued")
		id := r["event_id"].(string)
		e.waitState(id, "placed")
		if i == 1 {
			p1 = id
		}
	}
	if r := e.admin(http.MethodGet, "/events/"+p1); r.Status != http.StatusNotFound {
		t.Fatalf("p1 was not evicted: %s", r)
	}
	r := wantStatus(t, e.do(postReq("/webhooks/generic", genericLead("p1", "099123451"))), http.StatusOK, "duplicate")
	if dup, _ := r["duplicate_of"].(map[string]any); dup["event_id"] != p1 || dup["state"] != "gone" {
		t.Errorf("duplicate_of = %v, want p1's id %s (ignored: its record is gone)", r["duplicate_of"], p1)
	}
	e.settle()
	if n := len(e.fake.calls()); n != 5 {
		t.Fatalf("%d AgentCalls, want 5 (p1 dialed once)", n)
	}
}

// smallBuffers is a listener whose connections have a tiny send buffer, so
// that a client that does not read blocks the server's writes at once.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// A client that never reads an admin answer is cut off at the admin write
// deadline instead of holding the connection as long as it likes.
func TestWriteDeadline(t *testing.T) {
	e := newEnv(t, envOptions{noDispatcher: true, writes: handlersWrites(200 * time.Millisecond)})
	for i := range 400 {
		wantStatus(t, e.do(postReq("/webhooks/generic", genericLead(fmt.Sprint("wd-", i), "099 123 456"))), http.StatusAccepted, "queued")
	}
	srv := httptest.NewUnstartedServer(e.srv)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	d := net.Dialer{}
	conn, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /events?state=queued&limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(time.Second) // never read while the server writes
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(conn)
	if n := strings.Count(string(got), `"source":"generic"`); n >= 400 {
		t.Fatalf("the whole answer (%d events, %d bytes) was written to a client that did not read", n, len(got))
	}
}

func handlersWrites(d time.Duration) handlers.WriteTimeouts {
	return handlers.WriteTimeouts{Webhook: d, Admin: d, Probe: d}
}

// brokenStore answers with an error that is not an outage.
type brokenStore struct{ downStore }

func (brokenStore) Accept(context.Context, []store.Submission) ([]store.Accepted, error) {
	return nil, errors.New("store: redis: CROSSSLOT Keys in request don't hash to the same slot")
}

// A store error that retrying cannot cure is a 500 with an ERROR line, not
// an endless "retry later".
func TestPermanentStoreErrorIs500(t *testing.T) {
	e := newEnv(t, envOptions{store: brokenStore{}})
	r := e.do(postReq("/webhooks/generic", genericLead("pe-1", "099 123 456")))
	wantError(t, r, http.StatusInternalServerError, "internal")
	if r.Header.Get("Retry-After") != "" {
		t.Error("a permanent error says Retry-After")
	}
	if n := e.logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n == 0 {
		t.Errorf("no ERROR line:\n%s", e.logText())
	}
}

// Out of memory, a fixed redelivery of an event its mapping rejected is a
// takeover (a write): it is answered 503 store_full with Retry-After, not
// "duplicate" of the rejection, so the sender tries again and the fix is
// dialed once memory is back. On a generic and a Standard Webhooks source.
func TestStoreFullRejectedFix(t *testing.T) {
	srv := testredis.StartArgs(t, "--maxmemory-policy", "noeviction")
	t.Cleanup(srv.Stop)
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	setMax := func(v string) {
		if err := admin.ConfigSet(context.Background(), "maxmemory", v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name          string
		broken, fixed func() *http.Request
	}{
		{"generic",
			func() *http.Request {
				return postReq("/webhooks/generic", []byte(`{"event_id":"oomrej2","agent":"1001","phone":"1001"}`))
			},
			func() *http.Request {
				return postReq("/webhooks/generic", []byte(`{"event_id":"oomrej2","agent":"1001","phone":"1001","destination":"099129502"}`))
			}},
		{"standard",
			func() *http.Request {
				return stdReq("msg_oom", []byte(`{"type":"lead.created","event_id":"evt-oom","owner":"71234567"}`), testNow)
			},
			func() *http.Request {
				return stdReq("msg_oom", []byte(`{"type":"lead.created","event_id":"evt-oom","destination":"099129502","owner":"71234567"}`), testNow)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{Namespace: testredis.Namespace(t), Shards: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rs.Close() })
			e := newEnv(t, envOptions{store: rs})
			r := e.do(c.broken())
			wantError(t, r, http.StatusUnprocessableEntity, "mapping_failed")
			first := r.json(t)["event_id"]

			setMax("1")
			defer setMax("0")
			r = e.do(c.fixed())
			wantError(t, r, http.StatusServiceUnavailable, "store_full")
			if r.Header.Get("Retry-After") == "" {
				t.Error("store_full answer has no Retry-After")
			}
			setMax("0")
			m := wantStatus(t, e.do(c.fixed()), http.StatusAccepted, "queued")
			if m["supersedes"] != first {
				t.Errorf("fixed redelivery after memory is back = %v, want it to supersede %v", m, first)
			}
		})
	}
}
