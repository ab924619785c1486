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
	for _, id := range ids {
		if e := waitFinal(t, r.st, id, 15*time.Second); e.State != store.Placed {
			t.Errorf("event %s ended %s after memory came back", id, e.State)
		}
	}
}
