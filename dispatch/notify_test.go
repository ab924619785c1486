package dispatch_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"dialhook/dispatch"
	"dialhook/metrics"
	"dialhook/notify"
	"dialhook/store"
	"dialhook/ucontact"
)

// placedEvent accepts an event and places its call on a memory store,
// which queues its event.placed job.
func placedEvent(t *testing.T, st *store.Memory, key string) string {
	t.Helper()
	ctx := context.Background()
	e := &store.Event{ID: st.NewEventID(key), Source: "generic", DedupKey: key, ReceivedAt: time.Now(), UpdatedAt: time.Now(),
		State: store.Queued, Params: ucontact.Params{Agent: "a-" + key, Destination: "59899123456"}}
	if _, err := st.Accept(ctx, []store.Submission{{Event: e, DedupKey: key, DedupTTL: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	ds, err := st.Next(ctx, "w", 0, 1, time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("next: %v %v", ds, err)
	}
	ev, _, err := st.Begin(ctx, ds[0], time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finish(ctx, ds[0], ev, store.Outcome{State: store.Placed, CallGUID: "0f4e1d1a-51a3-4b8e-9d29-3c1f0a3b2c4d"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// An endpoint that answers 410 Gone is disabled: later notifications are
// not sent to it (recorded "disabled") until its configuration changes.
func TestNotifierDisablesOn410(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusGone)
	}))
	defer srv.Close()
	st := store.NewMemory(store.MemoryOptions{Retention: time.Hour, Notify: true})
	secret, _ := notify.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	ep := notify.Endpoint{Name: "gone", URL: srv.URL, Secret: secret}
	run := func(ep notify.Endpoint) {
		n := dispatch.NewNotifier(st, zap.NewNop(), nil, dispatch.NotifierOptions{Endpoints: []notify.Endpoint{ep}, Poll: 10 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		n.Run(ctx)
	}
	first := placedEvent(t, st, "gone-1")
	run(ep)
	second := placedEvent(t, st, "gone-2")
	run(ep)
	if hits.Load() != 1 {
		t.Errorf("the endpoint got %d requests, want 1 (disabled after its 410)", hits.Load())
	}
	outcome := func(id string) string {
		ev, _ := st.Get(context.Background(), id)
		if len(ev.Notifications) == 0 {
			return ""
		}
		return ev.Notifications[len(ev.Notifications)-1].Outcome
	}
	if outcome(first) != "disabled" || outcome(second) != "disabled" {
		t.Errorf("attempts: %q, %q; want disabled, disabled", outcome(first), outcome(second))
	}
	ep.URL += "/new" // a configuration change enables it again
	placedEvent(t, st, "gone-3")
	run(ep)
	if hits.Load() != 2 {
		t.Errorf("after a configuration change the endpoint got %d requests in all, want 2", hits.Load())
	}
}

type countingDialer struct{ n atomic.Int32 }

func (c *countingDialer) AgentCall(context.Context, ucontact.Params) (uuid.UUID, error) {
	c.n.Add(1)
	return uuid.New(), nil
}

// A number put on the do-not-call list while its event waits in the queue
// is honoured: the event ends blocked and no AgentCall is made.
func TestDoNotCallRecheckedBeforeTheCall(t *testing.T) {
	st := store.NewMemory(store.MemoryOptions{Retention: time.Hour})
	ctx := context.Background()
	e := &store.Event{ID: st.NewEventID("k"), Source: "generic", DedupKey: "k", ReceivedAt: time.Now(), UpdatedAt: time.Now(),
		State: store.Queued, Params: ucontact.Params{Agent: "1001", Destination: "59899123456"}}
	if _, err := st.Accept(ctx, []store.Submission{{Event: e, DedupKey: "k", DedupTTL: time.Hour, Destination: "59899123456"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.DNCAdd(ctx, []store.DNCEntry{{Number: "59899123456", AddedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	dialer := &countingDialer{}
	d := dispatch.New(st, dialer, zap.NewNop(), metrics.New(nil), dispatch.Options{Workers: 1, Poll: 10 * time.Millisecond})
	runCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	d.Run(runCtx, runCtx)
	got, _ := st.Get(ctx, e.ID)
	if got.State != store.Blocked || dialer.n.Load() != 0 {
		t.Errorf("state %s after %d AgentCalls; want blocked, none", got.State, dialer.n.Load())
	}
}
