package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
	"dialhook/store"
)

// A stalled Redis (SIGSTOP) makes Accept answer an error within a bounded
// time, and no script runs twice: go-redis does not send a timed-out
// pipeline again, so no event is answered as a duplicate of itself and
// none is recorded with a duplicate it never had.
func TestRedisStallNoDoubleRun(t *testing.T) {
	srv := testredis.StartArgs(t)
	t.Cleanup(srv.Stop)
	const timeout = 300 * time.Millisecond
	s, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{Retention: time.Hour, Timeout: timeout, Namespace: testredis.Namespace(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	accept1(t, s, sub(newEvent("warm"), "generic:warm")) // scripts loaded, connection open

	srv.Pause()
	const n = 10
	events := make([]string, n)
	errs := make([]error, n)
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e := newEvent("a")
			e.ID = s.NewEventID("generic:stall-" + e.ID)
			start := time.Now()
			events[i] = e.ID
			acc, err := s.Accept(ctx, []store.Submission{sub(e, "generic:stall-"+e.ID)})
			took[i], errs[i] = time.Since(start), err
			if err == nil && acc[0].Duplicate {
				t.Errorf("event %d answered as a duplicate of %s during the stall", i, acc[0].Event.ID)
			}
		}()
	}
	wg.Wait()
	time.Sleep(time.Second) // the stall goes on after every caller was answered
	srv.Resume()

	bound := 4*timeout + time.Second
	for i := range n {
		if !errors.Is(errs[i], store.ErrUnavailable) {
			t.Errorf("accept %d during the stall: %v, want ErrUnavailable", i, errs[i])
		}
		if took[i] > bound {
			t.Errorf("accept %d answered after %s, want within %s", i, took[i], bound)
		}
	}
	// Redis now runs what was sent before the stall ended: each event is
	// recorded at most once, with no duplicate counted.
	time.Sleep(200 * time.Millisecond)
	for i, id := range events {
		e, err := s.Get(context.Background(), id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil || e.Duplicates != 0 {
			t.Errorf("event %d after the stall: %+v %v (a script ran twice)", i, e, err)
		}
	}
}

// Out of memory (maxmemory reached, noeviction): a new event is refused
// with ErrFull (nothing written), a redelivery of a recorded event is still
// answered as a duplicate, and Ready says the store is full until memory
// is back.
func TestRedisOutOfMemory(t *testing.T) {
	srv := testredis.StartArgs(t, "--maxmemory-policy", "noeviction")
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	s := openRedis(t, srv.URL(), testredis.Namespace(t))
	first := newEvent("a")
	accept1(t, s, sub(first, "generic:oom-a"))
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}

	_, err := s.Accept(ctx, []store.Submission{sub(newEvent("b"), "generic:oom-b")})
	if !errors.Is(err, store.ErrFull) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("accept when full: %v, want ErrFull", err)
	}
	if d := accept1(t, s, sub(newEvent("a"), "generic:oom-a")); !d.Duplicate || d.Event.ID != first.ID {
		t.Fatalf("redelivery when full = dup %v %+v", d.Duplicate, d.Event)
	}
	if err := s.Ready(ctx); !errors.Is(err, store.ErrFull) {
		t.Fatalf("ready when full: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping when full: %v (Redis still answers)", err)
	}

	if err := admin.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready after memory is back: %v", err)
	}
	if a := accept1(t, s, sub(newEvent("b"), "generic:oom-b")); a.Duplicate || a.Event.State != store.Queued {
		t.Fatalf("accept after memory is back = %+v", a)
	}
}

// Check warns about what can lose data on its own: an evicting policy, no
// persistence; and says nothing once Redis is set up as the README asks.
func TestRedisCheckWarnings(t *testing.T) {
	srv := testredis.StartArgs(t, "--maxmemory-policy", "allkeys-lru", "--dir", t.TempDir())
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	s := openRedis(t, srv.URL(), testredis.Namespace(t))
	warn := strings.Join(s.Check(ctx), "\n")
	for _, want := range []string{`maxmemory-policy is "allkeys-lru"`, "persistence is off"} {
		if !strings.Contains(warn, want) {
			t.Errorf("warnings %q lack %q", warn, want)
		}
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	for k, v := range map[string]string{"maxmemory-policy": "noeviction", "appendonly": "yes", "appendfsync": "everysec"} {
		if err := admin.ConfigSet(ctx, k, v).Err(); err != nil {
			t.Fatal(k, err)
		}
	}
	if w := s.Check(ctx); len(w) != 0 {
		t.Errorf("warnings for a well set-up Redis: %q", w)
	}
}

// Out of memory, a redelivery that maps of an event its mapping rejected
// would take the claim over (a write): it is refused with ErrFull, not
// answered as a duplicate of the rejection, so the sender tries again.
// One that still fails is a duplicate (a read).
func TestRedisOutOfMemoryTakeover(t *testing.T) {
	srv := testredis.StartArgs(t, "--maxmemory-policy", "noeviction")
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	s := openRedis(t, srv.URL(), testredis.Namespace(t))
	bad := mappingRejected()
	accept1(t, s, sub(bad, "generic:oom-fix"))
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if d := accept1(t, s, sub(mappingRejected(), "generic:oom-fix")); !d.Duplicate || d.Event.ID != bad.ID {
		t.Fatalf("still failing redelivery when full = dup %v %+v", d.Duplicate, d.Event)
	}
	fixed := newEvent("a1")
	fixed.ID = s.NewEventID("generic:oom-fix")
	acc, err := s.Accept(ctx, []store.Submission{sub(fixed, "generic:oom-fix")})
	if !errors.Is(err, store.ErrFull) {
		t.Fatalf("fixed redelivery when full = %+v %v, want ErrFull", acc, err)
	}

	if err := admin.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if a := accept1(t, s, sub(newEvent("a1"), "generic:oom-fix")); a.Duplicate || a.Event.State != store.Queued || a.Event.Supersedes != bad.ID {
		t.Fatalf("fixed redelivery after memory is back = dup %v %+v", a.Duplicate, a.Event)
	}
}
