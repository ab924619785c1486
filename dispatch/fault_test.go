package dispatch_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/dispatch"
	"dialhook/internal/testredis"
	"dialhook/store"
)

// counting counts the Begin calls the dispatcher makes.
type counting struct {
	dispatch.Queue
	begins atomic.Int64
}

func (c *counting) Begin(ctx context.Context, d store.Delivery, hold time.Duration, now time.Time) (*store.Event, store.BeginResult, error) {
	c.begins.Add(1)
	return c.Queue.Begin(ctx, d, hold, now)
}

// With Redis out of memory the dispatcher backs off instead of spinning on
// queue entries it cannot begin, and dials them as soon as memory is back,
// not after claim_idle.
func TestRedisFullBackoff(t *testing.T) {
	srv := testredis.StartArgs(t, "--maxmemory-policy", "noeviction")
	t.Cleanup(srv.Stop)
	q := &counting{}
	r := newReplica(t, replicaConfig{redisURL: srv.URL(), namespace: testredis.Namespace(t), idle: true,
		opts: dispatch.Options{Workers: 4, ClaimIdle: time.Minute},
		wrap: func(inner dispatch.Queue) dispatch.Queue { q.Queue = inner; return q }})
	var ids []string
	for i := range 5 {
		ids = append(ids, mustAccept(t, r.url, lead(fmt.Sprint("oom-", i), fmt.Sprint("agent-", i), dest(i))))
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	r.run(t)
	time.Sleep(2 * time.Second)
	t.Logf("%d Begin calls in 2s", q.begins.Load())
	if n := q.begins.Load(); n > 60 {
		t.Errorf("%d Begin calls in 2s while Redis was full: the dispatcher spins", n)
	}
	if err := admin.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for _, id := range ids {
		if e := waitFinal(t, r.st, id, 15*time.Second); e.State != store.Placed {
			t.Errorf("event %s ended %s after memory came back", id, e.State)
		}
	}
	if took := time.Since(back); took > 2*time.Second {
		t.Errorf("all placed %s after memory came back, want within 2s", took)
	}
}

// Out of memory for longer than half of claim_idle (when begin used to give
// up and leave its entries to be reclaimed after claim_idle), two replicas
// keep asking: once memory is back every queued call is placed within
// seconds, each exactly once, none taken over by the other replica.
func TestRedisLongFullDialsWhenBack(t *testing.T) {
	srv := testredis.StartArgs(t, "--maxmemory-policy", "noeviction")
	t.Cleanup(srv.Stop)
	fake := newFake(t, nil)
	ns := testredis.Namespace(t)
	const claimIdle = 10 * time.Second
	var rs []*replica
	for range 2 {
		rs = append(rs, newReplica(t, replicaConfig{redisURL: srv.URL(), namespace: ns, idle: true,
			dialer: newDialer(t, fake.srv.URL, 5*time.Second), opts: dispatch.Options{Workers: 2, ClaimIdle: claimIdle}}))
	}
	var ids []string
	for i := range 6 {
		ids = append(ids, mustAccept(t, rs[0].url, lead(fmt.Sprint("long-oom-", i), fmt.Sprint("agent-", i), dest(i))))
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		r.run(t)
	}
	time.Sleep(claimIdle/2 + 3*time.Second)
	if n := fake.count(); n != 0 {
		t.Fatalf("%d calls placed while Redis was full", n)
	}
	if err := admin.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for _, id := range ids {
		if e := waitFinal(t, rs[0].st, id, 15*time.Second); e.State != store.Placed || e.Attempts != 1 {
			t.Errorf("event %s ended %s after %d attempts", id, e.State, e.Attempts)
		}
	}
	var latest time.Duration
	for _, c := range fake.snapshot() {
		latest = max(latest, c.start.Sub(back))
		if late := c.start.Sub(back); late > 2*time.Second {
			t.Errorf("call to %s placed %s after memory came back", c.form.Get("destination"), late)
		}
	}
	t.Logf("last call placed %s after memory came back", latest)
	for d, n := range fake.byDestination() {
		if n != 1 {
			t.Errorf("%s dialed %d times", d, n)
		}
	}
	if n := fake.count(); n != len(ids) {
		t.Errorf("%d calls, want %d", n, len(ids))
	}
}
