package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
	"dialhook/store"
)

// eachRedis runs f on a single Redis and on a Cluster.
func eachRedis(t *testing.T, f func(t *testing.T, s *store.Redis)) {
	t.Run("redis", func(t *testing.T) { f(t, openStore(t, testredis.URL(t), 1000)) })
	t.Run("cluster", func(t *testing.T) { f(t, openStore(t, testredis.ClusterURL(t), 1000)) })
}

// Records carry no TTL: the housekeeping (run by Promote) deletes those
// received before the retention (an hour here), in every state, and keeps
// the others.
func TestRedisForgetsRecordsPastRetention(t *testing.T) {
	eachRedis(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		now := time.Now().UTC()
		var old []string
		for i, st := range []store.State{store.Queued, store.Rejected, store.Scheduled} {
			e := newEvent(fmt.Sprintf("old%d", i))
			e.State, e.ReceivedAt = st, now.Add(-2*time.Hour)
			if st == store.Scheduled {
				due := now.Add(time.Hour)
				e.DueAt = &due
			}
			accept1(t, s, sub(e, fmt.Sprintf("generic:old%d", i)))
			old = append(old, e.ID)
		}
		fresh := newEvent("fresh")
		accept1(t, s, sub(fresh, "generic:fresh"))
		if _, err := s.Promote(ctx, now); err != nil {
			t.Fatal(err)
		}
		for _, id := range old {
			if e, err := s.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("record received 2h ago, retention 1h: %+v %v, want not found", e, err)
			}
		}
		if e, err := s.Get(ctx, fresh.ID); err != nil || e.State != store.Queued {
			t.Errorf("fresh record = %+v %v", e, err)
		}
		if list, err := listAll(ctx, s, store.Rejected, 10); err != nil || len(list) != 0 {
			t.Errorf("rejected listing after retention = %v %v", list, err)
		}
	})
}

// Queued, dialing and placed events share an index: a listing of the
// queued ones among many placed still finds them, page after page.
func TestListQueuedAmongPlaced(t *testing.T) {
	eachRedis(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		now := time.Now().UTC()
		waiting := newEvent("waiting")
		waiting.ReceivedAt = now.Add(-time.Minute) // older than every placed one
		accept1(t, s, sub(waiting, "generic:waiting"))
		d := next1(t, s) // out of the queue, so that the loop below dials the others
		const placed = 25
		for i := range placed {
			accept1(t, s, sub(newEvent(fmt.Sprintf("p%d", i)), fmt.Sprintf("generic:p%d", i)))
			pd := next1(t, s)
			got, res, err := s.Begin(ctx, pd, time.Minute, time.Now())
			if err != nil || res != store.Dial {
				t.Fatalf("begin %d: %v %v", i, res, err)
			}
			if _, err := s.Finish(ctx, pd, got, store.Outcome{State: store.Placed, CallGUID: fmt.Sprintf("g-%d", i), Agent: got.Params.Agent}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		var found []string
		cursor, pages := "", 0
		for ; pages < 50; pages++ {
			p, err := s.List(ctx, store.ListQuery{State: store.Queued, Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				found = append(found, e.ID)
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if len(found) != 1 || found[0] != waiting.ID || d.EventID != waiting.ID {
			t.Fatalf("queued listing over %d pages = %v, want [%s]", pages+1, found, waiting.ID)
		}
		st, err := s.Stats(ctx, time.Now())
		if err != nil || st.ByState[store.Placed] != placed || st.ByState[store.Dialing] != 1 || st.ByState[store.Queued] != 0 {
			t.Fatalf("stats = %+v %v (want %d placed, the waiting one read: dialing 1)", st, err, placed)
		}
	})
}

// The ingest and dial budgets of issue 12, counted by Redis itself (INFO
// commandstats counts the commands scripts run too): a new event costs at
// most 5 commands in all, a placed call at most 10. The console's search
// index adds one ZADD to the accept (6), nothing to the call.
func TestRedisCommandBudgets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		search bool
		accept int
	}{{"console off", false, 5}, {"console on", true, 6}} {
		t.Run(tc.name, func(t *testing.T) { commandBudgets(t, tc.search, tc.accept) })
	}
}

func commandBudgets(t *testing.T, search bool, acceptBudget int) {
	srv := testredis.Start(t, "")
	ctx := context.Background()
	s, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{Retention: time.Hour, Shards: 1, Namespace: testredis.Namespace(t), SearchIndex: search})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	warm := newEvent("warm") // loads the scripts and opens the connections
	accept1(t, s, sub(warm, "generic:warm"))
	placeNext(t, s)

	resetStats(t, admin)
	e := newEvent("a1")
	e.RecordID, e.DedupKey = "rec-1", "budget"
	e.Request = &store.Request{Method: "POST", Path: "/webhooks/generic", Body: "{}", Size: 2}
	accept1(t, s, sub(e, "generic:budget"))
	if n := commandCount(t, admin); n > acceptBudget {
		t.Errorf("accepting a new event ran %d Redis commands, budget %d", n, acceptBudget)
	}
	resetStats(t, admin)
	placeNext(t, s)
	if n := commandCount(t, admin); n > 10 {
		t.Errorf("placing a call ran %d Redis commands, budget 10", n)
	}
}

// placeNext reads the next delivery, begins and finishes it as placed.
func placeNext(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	d := next1(t, s)
	got, res, err := s.Begin(ctx, d, time.Minute, time.Now())
	if err != nil || res != store.Dial {
		t.Fatalf("begin: %v %v", res, err)
	}
	if _, err := s.Finish(ctx, d, got, store.Outcome{State: store.Placed, CallGUID: uuid.NewString(), Agent: got.Params.Agent}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func resetStats(t *testing.T, c *redis.Client) {
	t.Helper()
	if err := c.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// commandCount is every command Redis ran since the reset but the test's
// own (INFO, CONFIG RESETSTAT).
func commandCount(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var names []string
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
		if !ok || name == "info" || strings.HasPrefix(name, "config") {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		v, _ := strconv.Atoi(calls)
		n += v
		names = append(names, fmt.Sprintf("%s=%d", name, v))
	}
	t.Logf("commands: %v", names)
	return n
}

// Forgetting a record past retention takes its search index members with
// it, and a request older than inspect.retention is deleted from a record
// that is kept.
func TestRedisForgetsSearchMembersAndRequests(t *testing.T) {
	srv := testredis.Start(t, "")
	ctx := context.Background()
	s, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{Retention: time.Hour, InspectRetention: 30 * time.Minute,
		Shards: 1, Namespace: testredis.Namespace(t), SearchIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	now := time.Now().UTC()
	var evIDs []string
	for i, age := range []time.Duration{2 * time.Hour, 45 * time.Minute} {
		e := newEvent(fmt.Sprint("aged", i))
		e.State, e.ReceivedAt, e.RecordID = store.Rejected, now.Add(-age), fmt.Sprint("rec-aged-", i)
		e.Request = &store.Request{Method: "POST", Body: "{}"}
		accept1(t, s, sub(e, fmt.Sprint("generic:aged", i)))
		evIDs = append(evIDs, e.ID)
	}
	if _, err := s.Promote(ctx, now); err != nil {
		t.Fatal(err)
	}
	keys, err := admin.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k, "find"):
			members, _ := admin.ZRange(ctx, k, 0, -1).Result()
			if len(members) != 2 || !strings.HasSuffix(members[0], evIDs[1]) || !strings.HasSuffix(members[1], evIDs[1]) {
				t.Errorf("search index after forget = %q, want only the kept event's (%s) two", members, evIDs[1])
			}
		case strings.Contains(k, ":ev:"):
			if n, _ := admin.HExists(ctx, k, "req").Result(); n {
				t.Errorf("%s keeps its request 45 min after it was received, inspect retention 30 min", k)
			}
		}
	}
}
