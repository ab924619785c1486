package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/internal/testredis"
	"dialhook/store"
	"dialhook/ucontact"
)

// eachStore runs the contract suite against both implementations.
func eachStore(t *testing.T, queueMax int, f func(t *testing.T, s store.Store)) {
	t.Run("memory", func(t *testing.T) {
		f(t, store.NewMemory(store.MemoryOptions{Retention: time.Hour, QueueMax: queueMax}))
	})
	t.Run("redis", func(t *testing.T) {
		f(t, openStore(t, testredis.URL(t), queueMax))
	})
	t.Run("cluster", func(t *testing.T) {
		f(t, openStore(t, testredis.ClusterURL(t), queueMax))
	})
}

// openStore opens a Redis store on url under a namespace of its own.
func openStore(t *testing.T, url string, queueMax int) *store.Redis {
	t.Helper()
	s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{Retention: time.Hour, QueueMax: queueMax, Namespace: testredis.Namespace(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newEvent(agent string) *store.Event {
	now := time.Now().UTC()
	return &store.Event{
		ID: uuid.NewString(), Source: "generic", Kind: "generic", ReceivedAt: now, UpdatedAt: now, State: store.Queued,
		Params: ucontact.Params{CallerID: "1", Agent: agent, Phone: "100", Tech: "SIP", Context: "agentes", OutQueue: "Q", Destination: "59899123456"},
	}
}

func sub(e *store.Event, key string) store.Submission {
	return store.Submission{Event: e, DedupKey: key, DedupTTL: time.Hour}
}

func accept1(t *testing.T, s store.Store, sb store.Submission) store.Accepted {
	t.Helper()
	sb.Event.ID = s.NewEventID(sb.DedupKey) // in its shard, as intake makes it
	acc, err := s.Accept(context.Background(), []store.Submission{sb})
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	return acc[0]
}

func next1(t *testing.T, s store.Store) store.Delivery {
	t.Helper()
	ds, err := nextAny(context.Background(), s, "c1", time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("next: %v %v", ds, err)
	}
	return ds[0]
}

func TestAcceptAndDuplicate(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		e := newEvent("a1")
		a := accept1(t, s, sub(e, "generic:k1"))
		if a.Duplicate || a.Event.State != store.Queued || a.Event.ID != e.ID {
			t.Fatalf("first accept = %+v", a)
		}
		for i := 1; i <= 2; i++ {
			d := accept1(t, s, sub(newEvent("a1"), "generic:k1"))
			if !d.Duplicate || d.Event.ID != e.ID || d.Event.Duplicates != i {
				t.Fatalf("redelivery %d = dup %v id %s dups %d", i, d.Duplicate, d.Event.ID, d.Event.Duplicates)
			}
		}
		got, err := s.Get(ctx, e.ID)
		if err != nil || got.Params != e.Params || got.Duplicates != 2 || got.State != store.Queued {
			t.Fatalf("get = %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get missing: %v", err)
		}
		// Only one queue entry for the three deliveries.
		next1(t, s)
		if ds, _ := nextAny(ctx, s, "c1", 50*time.Millisecond); len(ds) != 0 {
			t.Fatalf("second entry: %v", ds)
		}
	})
}

func TestConcurrentClaimIsAtomic(t *testing.T) {
	eachStore(t, 1000, func(t *testing.T, s store.Store) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		firsts := 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acc, err := s.Accept(context.Background(), []store.Submission{sub(newEvent("a"), "generic:same")})
				if err != nil {
					t.Error(err)
					return
				}
				if !acc[0].Duplicate {
					mu.Lock()
					firsts++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if firsts != 1 {
			t.Fatalf("%d deliveries won the claim, want 1", firsts)
		}
	})
}

func TestFinalStatesAreNotQueued(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		for _, st := range []store.State{store.Rejected, store.Ignored, store.Expired} {
			e := newEvent("a")
			e.State = st
			if a := accept1(t, s, sub(e, "generic:"+string(st))); a.Event.State != st {
				t.Fatalf("state %s stored as %s", st, a.Event.State)
			}
		}
		if ds, _ := nextAny(context.Background(), s, "c1", 50*time.Millisecond); len(ds) != 0 {
			t.Fatalf("final events were queued: %v", ds)
		}
	})
}

func TestCooldownSuppresses(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		mk := func(key string) store.Submission {
			sb := sub(newEvent("a"), key)
			sb.CooldownKey, sb.CooldownTTL = "generic:59899123456", time.Hour
			return sb
		}
		if a := accept1(t, s, mk("generic:c1")); a.Event.State != store.Queued {
			t.Fatalf("first = %s", a.Event.State)
		}
		a := accept1(t, s, mk("generic:c2"))
		if a.Duplicate || a.Event.State != store.Suppressed {
			t.Fatalf("second = %s dup %v", a.Event.State, a.Duplicate)
		}
		got, _ := s.Get(context.Background(), a.Event.ID)
		if got.State != store.Suppressed {
			t.Fatalf("stored = %s", got.State)
		}
	})
}

func TestDialLifecycle(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		e := newEvent("a1")
		accept1(t, s, sub(e, "generic:l1"))
		d := next1(t, s)
		if d.EventID != e.ID {
			t.Fatalf("delivery for %s, want %s", d.EventID, e.ID)
		}
		got, res, err := s.Begin(ctx, d, time.Minute, time.Now())
		if err != nil || res != store.Dial || got.State != store.Dialing || got.Attempts != 1 {
			t.Fatalf("begin = %+v %v %v", got, res, err)
		}
		guid := uuid.NewString()
		// A redelivery while dialing counts as a duplicate of the record.
		if dup := accept1(t, s, sub(newEvent("a1"), "generic:l1")); !dup.Duplicate {
			t.Fatalf("redelivery = %+v", dup)
		}
		fin, err := s.Finish(ctx, d, got, store.Outcome{State: store.Placed, CallGUID: guid, Agent: "a1"}, time.Now())
		if err != nil || fin.State != store.Placed || fin.CallGUID != guid || fin.Attempts != 1 || fin.Params != e.Params || fin.ID != e.ID {
			t.Fatalf("finish = %+v %v", fin, err)
		}
		if got.State != store.Dialing || got.CallGUID != "" {
			t.Fatalf("finish changed the caller's record: %+v", got)
		}
		byGUID, err := s.GetByGUID(ctx, guid)
		if err != nil || byGUID.ID != e.ID || byGUID.State != store.Placed || byGUID.CallGUID != guid || byGUID.Attempts != 1 || byGUID.Duplicates != 1 || byGUID.Params != e.Params {
			t.Fatalf("by guid = %+v %v", byGUID, err)
		}
		if list, err := listAll(ctx, s, store.Placed, 10); err != nil || len(list) != 1 || list[0].ID != e.ID {
			t.Fatalf("list placed = %v %v", list, err)
		}
		if st, err := s.Stats(ctx, time.Now()); err != nil || st.ByState[store.Placed] != 1 || st.ByState[store.Dialing] != 0 || st.ByState[store.Queued] != 0 {
			t.Fatalf("stats = %+v %v", st, err)
		}
		// A stale second delivery of the same event is skipped.
		if _, res, _ := s.Begin(ctx, d, time.Minute, time.Now()); res != store.Skip {
			t.Fatalf("begin on placed = %v, want Skip", res)
		}
		for _, ev := range []*store.Event{nil, got} {
			if _, err := s.Finish(ctx, d, ev, store.Outcome{State: store.Failed}, time.Now()); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("finish on placed (record given: %v): %v", ev != nil, err)
			}
		}
		if again, err := s.Get(ctx, e.ID); err != nil || again.State != store.Placed || again.CallGUID != guid {
			t.Fatalf("after conflicting finish = %+v %v", again, err)
		}
	})
}

func TestReclaimedDialingBecomesUnknownThenRedial(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		e := newEvent("a1")
		accept1(t, s, sub(e, "generic:u1"))
		d := next1(t, s)
		if _, res, err := s.Begin(ctx, d, time.Minute, time.Now()); res != store.Dial || err != nil {
			t.Fatalf("begin: %v %v", res, err)
		}
		// The worker dies here. Another consumer reclaims the entry.
		ds, err := reclaimAll(ctx, s, "c2", 0)
		if err != nil || len(ds) != 1 || ds[0].EventID != e.ID {
			t.Fatalf("reclaim = %v %v", ds, err)
		}
		got, res, err := s.Begin(ctx, ds[0], time.Minute, time.Now())
		if err != nil || res != store.Interrupted || got.State != store.Unknown {
			t.Fatalf("begin reclaimed = %+v %v %v", got, res, err)
		}
		list, err := listAll(ctx, s, store.Unknown, 10)
		if err != nil || len(list) != 1 || list[0].ID != e.ID {
			t.Fatalf("list unknown = %v %v", list, err)
		}
		if ds, _ := reclaimAll(ctx, s, "c2", 0); len(ds) != 0 {
			t.Fatalf("entry still pending: %v", ds)
		}
		r, err := s.Redial(ctx, e.ID, store.Redial{At: time.Now().UTC(), Client: "127.0.0.1"})
		if err != nil || r.State != store.Queued || len(r.Redials) != 1 || r.Redials[0].Client != "127.0.0.1" {
			t.Fatalf("redial = %+v %v", r, err)
		}
		if _, err := s.Redial(ctx, e.ID, store.Redial{}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second redial while queued: %v", err)
		}
		d2 := next1(t, s)
		got, res, _ = s.Begin(ctx, d2, time.Minute, time.Now())
		if res != store.Dial || got.Attempts != 2 {
			t.Fatalf("begin after redial = %v attempts %d", res, got.Attempts)
		}
		if _, err := s.Redial(ctx, "missing", store.Redial{}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("redial missing: %v", err)
		}
	})
}

func TestRetryAndScheduledArePromotedWhenDue(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		now := time.Now()
		e := newEvent("a1")
		accept1(t, s, sub(e, "generic:r1"))
		d := next1(t, s)
		ev, _, _ := s.Begin(ctx, d, time.Minute, now)
		due := now.Add(time.Hour)
		if _, err := s.Finish(ctx, d, ev, store.Outcome{State: store.Queued, DueAt: due, ErrorKind: "unavailable"}, now); err != nil {
			t.Fatal(err)
		}
		sch := newEvent("a2")
		sch.State = store.Scheduled
		at := now.Add(2 * time.Hour)
		sch.DueAt = &at
		accept1(t, s, sub(sch, "generic:s1"))
		if n, err := s.Promote(ctx, now); err != nil || n != 0 {
			t.Fatalf("promote early = %d %v", n, err)
		}
		if n, _ := s.Promote(ctx, due.Add(time.Second)); n != 1 {
			t.Fatalf("promote at retry = %d, want 1", n)
		}
		if d := next1(t, s); d.EventID != e.ID {
			t.Fatalf("got %s, want retried %s", d.EventID, e.ID)
		}
		if n, _ := s.Promote(ctx, at.Add(time.Second)); n != 1 {
			t.Fatalf("promote at window = %d, want 1", n)
		}
		d3 := next1(t, s)
		got, res, _ := s.Begin(ctx, d3, time.Minute, now)
		if d3.EventID != sch.ID || res != store.Dial || got.State != store.Dialing {
			t.Fatalf("scheduled event: %s %v %s", d3.EventID, res, got.State)
		}
		// Without the record of Begin, Finish reads it.
		guid := uuid.NewString()
		fin, err := s.Finish(ctx, d3, nil, store.Outcome{State: store.Placed, CallGUID: guid}, now)
		if err != nil || fin.ID != sch.ID || fin.State != store.Placed || fin.CallGUID != guid || fin.Attempts != 1 || fin.Params != sch.Params {
			t.Fatalf("finish without the record = %+v %v", fin, err)
		}
	})
}

func TestAgentPacing(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		now := time.Now()
		a, b := newEvent("agent-7"), newEvent("agent-7")
		accept1(t, s, sub(a, "generic:p1"))
		accept1(t, s, sub(b, "generic:p2"))
		da, db := next1(t, s), next1(t, s)
		eva, res, _ := s.Begin(ctx, da, time.Minute, now)
		if res != store.Dial {
			t.Fatalf("first begin = %v", res)
		}
		got, res, err := s.Begin(ctx, db, time.Minute, now)
		if err != nil || res != store.Busy || got.DueAt == nil || !got.DueAt.After(now) {
			t.Fatalf("second begin = %v %+v %v", res, got, err)
		}
		// The first call ends with a 30s gap: the agent is still busy.
		s.Finish(ctx, da, eva, store.Outcome{State: store.Placed, CallGUID: uuid.NewString(), Agent: "agent-7", MinGap: 30 * time.Second}, now)
		if n, _ := s.Promote(ctx, now.Add(2*time.Minute)); n != 1 {
			t.Fatalf("promote = %d", n)
		}
		d := next1(t, s)
		if d.EventID != b.ID {
			t.Fatalf("got %s", d.EventID)
		}
	})
}

func TestListNewestFirstAndStats(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		base := time.Now().UTC()
		var ids []string
		for i := 0; i < 3; i++ {
			e := newEvent("a")
			e.State = store.Rejected
			e.ReceivedAt = base.Add(time.Duration(i) * time.Second)
			accept1(t, s, sub(e, fmt.Sprintf("generic:n%d", i)))
			ids = append(ids, e.ID)
		}
		list, err := listAll(ctx, s, store.Rejected, 2)
		if err != nil || len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
			t.Fatalf("list = %v %v", list, err)
		}
		accept1(t, s, sub(newEvent("a"), "generic:q"))
		st, err := s.Stats(ctx, time.Now())
		if err != nil || st.QueueDepth != 1 || st.ByState[store.Rejected] != 3 || st.ByState[store.Queued] != 1 {
			t.Fatalf("stats = %+v %v", st, err)
		}
	})
}

func TestQueueFull(t *testing.T) {
	eachStore(t, 2, func(t *testing.T, s store.Store) {
		accept1(t, s, sub(newEvent("a"), "generic:f1"))
		accept1(t, s, sub(newEvent("a"), "generic:f2"))
		_, err := s.Accept(context.Background(), []store.Submission{sub(newEvent("a"), "generic:f3")})
		if !errors.Is(err, store.ErrQueueFull) {
			t.Fatalf("third accept: %v, want ErrQueueFull", err)
		}
		// The refused event left no claim: its redelivery is accepted later.
		if a := accept1(t, s, func() store.Submission { e := newEvent("a"); e.State = store.Rejected; return sub(e, "generic:f3") }()); a.Duplicate {
			t.Fatal("refused event left a dedup claim")
		}
	})
}

func TestRedisUnavailable(t *testing.T) {
	srv := testredis.Start(t, "")
	s, err := store.OpenRedis(context.Background(), "redis://"+srv.Addr+"/0", store.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ping: %v, want ErrUnavailable", err)
	}
	if _, err := s.Accept(ctx, []store.Submission{sub(newEvent("a"), "k")}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("accept: %v, want ErrUnavailable", err)
	}
}

// nextAny reads the next entry of any of the store's queues, waiting up to
// block in all.
func nextAny(ctx context.Context, s store.Store, consumer string, block time.Duration) ([]store.Delivery, error) {
	deadline := time.Now().Add(block)
	for {
		for sh := range s.Shards() {
			ds, err := s.Next(ctx, consumer, sh, 1, 0)
			if err != nil || len(ds) > 0 {
				return ds, err
			}
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reclaimAll takes over idle entries of every queue.
func reclaimAll(ctx context.Context, s store.Store, consumer string, idle time.Duration) ([]store.Delivery, error) {
	var out []store.Delivery
	for sh := range s.Shards() {
		ds, err := s.Reclaim(ctx, consumer, sh, idle)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// listAll is the first page of events in state.
func listAll(ctx context.Context, s store.Store, state store.State, limit int) ([]*store.Event, error) {
	p, err := s.List(ctx, store.ListQuery{State: state, Limit: limit})
	return p.Events, err
}

// Next returns up to count entries of a shard in one read, oldest first,
// and leaves the rest for the next read.
func TestNextReadsUpToCount(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		shardOf := func(key string) string {
			if s.Shards() == 1 {
				return ""
			}
			return s.NewEventID(key)[:2]
		}
		var keys []string
		for i := 0; len(keys) < 3; i++ {
			if k := fmt.Sprintf("generic:batch%d", i); len(keys) == 0 || shardOf(k) == shardOf(keys[0]) {
				keys = append(keys, k)
			}
		}
		var ids []string
		for _, k := range keys {
			e := newEvent("a")
			accept1(t, s, sub(e, k))
			ids = append(ids, e.ID)
		}
		shard := 0
		if s.Shards() > 1 {
			fmt.Sscanf(ids[0][:2], "%x", &shard)
		}
		first, err := s.Next(ctx, "c1", shard, 2, 0)
		if err != nil || len(first) != 2 || first[0].EventID != ids[0] || first[1].EventID != ids[1] {
			t.Fatalf("next(count 2) = %+v %v, want %v", first, err, ids[:2])
		}
		rest, err := s.Next(ctx, "c1", shard, 16, 0)
		if err != nil || len(rest) != 1 || rest[0].EventID != ids[2] {
			t.Fatalf("next(count 16) = %+v %v, want [%s]", rest, err, ids[2])
		}
	})
}
