package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/store"
)

// mappingRejected is a new event whose mapping failed.
func mappingRejected() *store.Event {
	e := newEvent("")
	e.State, e.ErrorKind, e.Error = store.Rejected, store.MappingFailed, "mapping failed: destination: no value at destination"
	e.Fields = map[string]string{"destination": "no value at destination"}
	return e
}

// A mapping rejection does not block its own fix: a redelivery that still
// fails is a duplicate of it; one that maps takes the claim over, is
// queued, and links both records; later redeliveries duplicate the new one.
func TestRejectedRedeliveryTakesOver(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		bad := mappingRejected()
		if a := accept1(t, s, sub(bad, "generic:lead-1")); a.Duplicate || a.Event.State != store.Rejected {
			t.Fatalf("first = %+v", a)
		}
		still := accept1(t, s, sub(mappingRejected(), "generic:lead-1"))
		if !still.Duplicate || still.Event.ID != bad.ID || still.Event.State != store.Rejected || still.Event.Duplicates != 1 {
			t.Fatalf("still failing redelivery = dup %v %+v", still.Duplicate, still.Event)
		}
		fixed := newEvent("a1")
		got := accept1(t, s, sub(fixed, "generic:lead-1"))
		if got.Duplicate || got.Event.ID != fixed.ID || got.Event.State != store.Queued || got.Event.Supersedes != bad.ID {
			t.Fatalf("fixed redelivery = dup %v %+v", got.Duplicate, got.Event)
		}
		if d := next1(t, s); d.EventID != fixed.ID {
			t.Fatalf("queued %s, want %s", d.EventID, fixed.ID)
		}
		old, err := s.Get(ctx, bad.ID)
		if err != nil || old.SupersededBy != fixed.ID || old.State != store.Rejected {
			t.Fatalf("old record = %+v %v", old, err)
		}
		rec, err := s.Get(ctx, fixed.ID)
		if err != nil || rec.Supersedes != bad.ID {
			t.Fatalf("new record = %+v %v", rec, err)
		}
		again := accept1(t, s, sub(newEvent("a1"), "generic:lead-1"))
		if !again.Duplicate || again.Event.ID != fixed.ID {
			t.Fatalf("redelivery after the fix = dup %v %+v", again.Duplicate, again.Event)
		}
	})
}

// Only a mapping rejection gives its claim up: an event uContact rejected
// (answer 0) keeps it, like every other state.
func TestOtherStatesHoldTheClaim(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		for _, st := range []store.State{store.Ignored, store.Expired, store.Queued} {
			e := newEvent("a1")
			e.State = st
			key := "generic:" + string(st)
			accept1(t, s, sub(e, key))
			if d := accept1(t, s, sub(newEvent("a1"), key)); !d.Duplicate || d.Event.ID != e.ID {
				t.Errorf("%s: redelivery = dup %v %+v", st, d.Duplicate, d.Event)
			}
		}
		e := newEvent("a1")
		e.State, e.ErrorKind = store.Rejected, "rejected" // uContact answered 0
		accept1(t, s, sub(e, "generic:zero"))
		if d := accept1(t, s, sub(newEvent("a1"), "generic:zero")); !d.Duplicate || d.Event.ID != e.ID {
			t.Errorf("uContact rejection: redelivery = dup %v %+v", d.Duplicate, d.Event)
		}
	})
}

// The redial rule lives in the store: a mapping rejection is refused with
// ErrNotRedialable (still an ErrConflict), other states with ErrConflict.
func TestRedialRule(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		bad := mappingRejected()
		accept1(t, s, sub(bad, "generic:r1"))
		_, err := s.Redial(ctx, bad.ID, store.Redial{At: time.Now(), Client: "127.0.0.1"})
		if !errors.Is(err, store.ErrNotRedialable) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("redial of a mapping rejection: %v", err)
		}
		q := newEvent("a1")
		accept1(t, s, sub(q, "generic:r2"))
		if _, err := s.Redial(ctx, q.ID, store.Redial{At: time.Now()}); !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotRedialable) {
			t.Fatalf("redial of a queued event: %v", err)
		}
		if _, err := s.Redial(ctx, uuid.NewString(), store.Redial{At: time.Now()}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("redial of nothing: %v", err)
		}
	})
}

// Accept asked again for the same event (same id: the first answer was
// lost in a timeout) answers as the first time and queues it once.
func TestAcceptIdempotentByID(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		e := newEvent("a1")
		e.ID = s.NewEventID("generic:same")
		for i := 0; i < 2; i++ {
			acc, err := s.Accept(context.Background(), []store.Submission{sub(e, "generic:same")})
			if a := acc[0]; err != nil || a.Duplicate || a.Event.ID != e.ID || a.Event.State != store.Queued {
				t.Fatalf("accept %d = dup %v %+v %v", i, a.Duplicate, a.Event, err)
			}
		}
		next1(t, s)
		if ds, err := nextAny(context.Background(), s, "c1", 50*time.Millisecond); err != nil || len(ds) != 0 {
			t.Fatalf("second queue entry: %v %v", ds, err)
		}
	})
}

// Begin and Finish asked again with the same token answer as the first
// time; a reclaim (another token) of a dialing event finds it interrupted,
// and a late Finish of the first attempt then conflicts.
func TestBeginFinishTokens(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx, now := context.Background(), time.Now()
		e := newEvent("a1")
		accept1(t, s, sub(e, "generic:t1"))
		d := next1(t, s)
		d.Token = "attempt-1"
		for i := 0; i < 2; i++ {
			ev, res, err := s.Begin(ctx, d, time.Minute, now)
			if err != nil || res != store.Dial || ev.Attempts != 1 || ev.State != store.Dialing {
				t.Fatalf("begin %d = %v %+v %v", i, res, ev, err)
			}
		}
		out := store.Outcome{State: store.Placed, CallGUID: uuid.NewString(), Agent: "a1"}
		for i := 0; i < 2; i++ {
			got, err := s.Finish(ctx, d, nil, out, now)
			if err != nil || got.State != store.Placed || got.CallGUID != out.CallGUID {
				t.Fatalf("finish %d = %+v %v", i, got, err)
			}
		}

		e2 := newEvent("a2")
		accept1(t, s, sub(e2, "generic:t2"))
		d2 := next1(t, s)
		d2.Token = "attempt-1"
		if _, res, err := s.Begin(ctx, d2, time.Minute, now); err != nil || res != store.Dial {
			t.Fatalf("begin = %v %v", res, err)
		}
		reclaim := d2
		reclaim.Token = "attempt-2"
		if ev, res, err := s.Begin(ctx, reclaim, time.Minute, now); err != nil || res != store.Interrupted || ev.State != store.Unknown {
			t.Fatalf("reclaimed begin = %v %+v %v", res, ev, err)
		}
		if _, err := s.Finish(ctx, d2, nil, store.Outcome{State: store.Placed, CallGUID: uuid.NewString()}, now); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("late finish after the reclaim: %v", err)
		}
	})
}
