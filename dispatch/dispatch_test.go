package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"dialhook/dispatch"
	"dialhook/internal/testredis"
	"dialhook/metrics"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/ucontact"
)

// Two replicas on one Redis namespace, 1,000 events with 30% redeliveries
// spread over both: one AgentCall per event, every event placed.
func TestTwoReplicasDialEachEventOnce(t *testing.T) {
	t.Parallel()
	const n = 1000
	fake := newFake(t, nil)
	ns := testredis.Namespace(t)
	var reps [2]*replica
	for i := range reps {
		reps[i] = newReplica(t, replicaConfig{namespace: ns, dialer: newDialer(t, fake.srv.URL, 5*time.Second),
			opts: dispatch.Options{Workers: 8, Consumer: fmt.Sprintf("replica-%d", i)}})
	}

	type delivery struct{ event, replica int }
	var plan []delivery
	for i := 0; i < n; i++ {
		plan = append(plan, delivery{i, i % 2})
		if i%10 < 3 { // a redelivery, to the other replica
			plan = append(plan, delivery{i, (i + 1) % 2})
		}
	}
	rand.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })

	var mu sync.Mutex
	queued := map[int][]string{} // event → ids answered "queued"
	dups := map[int][]string{}   // event → ids answered "duplicate"
	jobs := make(chan delivery)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range jobs {
				a := deliver(t, reps[d.replica].url, lead(fmt.Sprintf("ev-%d", d.event), fmt.Sprintf("agent-%d", d.event), dest(d.event)))
				mu.Lock()
				switch {
				case a.status == http.StatusAccepted && a.Status == "queued":
					queued[d.event] = append(queued[d.event], a.EventID)
				case a.status == http.StatusOK && a.Status == "duplicate":
					dups[d.event] = append(dups[d.event], a.EventID)
				default:
					t.Errorf("event %d: answer %d %+v", d.event, a.status, a)
				}
				mu.Unlock()
			}
		}()
	}
	for _, d := range plan {
		jobs <- d
	}
	close(jobs)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ndup := 0
	for i := 0; i < n; i++ {
		if len(queued[i]) != 1 {
			t.Fatalf("event %d was queued %d times", i, len(queued[i]))
		}
		for _, id := range dups[i] {
			if id != queued[i][0] {
				t.Fatalf("event %d: duplicate answered id %s, want %s", i, id, queued[i][0])
			}
		}
		ndup += len(dups[i])
	}
	if ndup != 300 {
		t.Fatalf("%d duplicates, want 300", ndup)
	}

	ctx := context.Background()
	eventually(t, 30*time.Second, "every event placed", func() (bool, string) {
		st, err := reps[0].st.Stats(ctx, time.Now())
		if err != nil {
			return false, err.Error()
		}
		return st.ByState[store.Placed] == n, fmt.Sprintf("%v, %d AgentCalls", st.ByState, fake.count())
	})
	for i := 0; i < n; i++ {
		e, err := reps[i%2].st.Get(ctx, queued[i][0])
		if err != nil || e.State != store.Placed || e.Attempts != 1 || e.CallGUID == "" || e.Params.Destination != dest(i) {
			t.Fatalf("event %d = %+v, %v", i, e, err)
		}
	}
	calls := fake.byDestination()
	if fake.count() != n || len(calls) != n {
		t.Fatalf("%d AgentCalls to %d destinations, want %d", fake.count(), len(calls), n)
	}
	for i := 0; i < n; i++ {
		if calls[dest(i)] != 1 {
			t.Fatalf("event %d dialed %d times", i, calls[dest(i)])
		}
	}
	// Both replicas took a share of the work.
	for i, r := range reps {
		if got := counterValue(r.m.Dials.WithLabelValues("ok")); got == 0 {
			t.Errorf("replica %d placed no call", i)
		}
	}

	st, err := reps[1].st.Stats(ctx, time.Now())
	if err != nil || st.QueueDepth != 0 || st.ByState[store.Queued] != 0 || st.ByState[store.Dialing] != 0 {
		t.Fatalf("stats after = %+v %v", st, err)
	}
	status, body := httpGet(t, reps[1].url+"/metrics")
	for _, want := range []string{"dialhook_queue_depth 0", fmt.Sprintf(`dialhook_events{state="placed"} %d`, n),
		"dialhook_scheduled_events 0", "dialhook_queue_oldest_pending_seconds 0"} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", status, want)
		}
	}
}

// crashable lets a test kill the dispatcher's store access at once, as if
// the process died: nothing it does afterwards reaches Redis.
type crashable struct {
	dispatch.Queue
	dead atomic.Bool
}

var errKilled = errors.New("the process was killed")

func (c *crashable) Next(ctx context.Context, consumer string, shard, count int, block time.Duration) ([]store.Delivery, error) {
	if c.dead.Load() {
		return nil, errKilled
	}
	return c.Queue.Next(ctx, consumer, shard, count, block)
}

func (c *crashable) Reclaim(ctx context.Context, consumer string, shard int, idle time.Duration) ([]store.Delivery, error) {
	if c.dead.Load() {
		return nil, errKilled
	}
	return c.Queue.Reclaim(ctx, consumer, shard, idle)
}

func (c *crashable) Begin(ctx context.Context, d store.Delivery, hold time.Duration, now time.Time) (*store.Event, store.BeginResult, error) {
	if c.dead.Load() {
		return nil, store.Skip, errKilled
	}
	return c.Queue.Begin(ctx, d, hold, now)
}

func (c *crashable) Finish(ctx context.Context, d store.Delivery, ev *store.Event, out store.Outcome, now time.Time) (*store.Event, error) {
	if c.dead.Load() {
		return nil, errKilled
	}
	return c.Queue.Finish(ctx, d, ev, out, now)
}

func (c *crashable) Promote(ctx context.Context, now time.Time) (int, error) {
	if c.dead.Load() {
		return 0, errKilled
	}
	return c.Queue.Promote(ctx, now)
}

// A worker stopped between dialing and the answer: the event becomes
// unknown, is not dialed again, and a redial places exactly one more call.
func TestWorkerKilledMidCall(t *testing.T) {
	t.Parallel()
	for _, kill := range []string{"crash", "cancel"} {
		t.Run(kill, func(t *testing.T) {
			t.Parallel()
			const timeout, claimIdle = 300 * time.Millisecond, 500 * time.Millisecond
			fake := newFake(t, func(_ int, _ url.Values, _ http.ResponseWriter, r *http.Request) (int, string) { return hang(r) })
			ns := testredis.Namespace(t)
			opts := func(name string) dispatch.Options {
				return dispatch.Options{Workers: 2, ClaimIdle: claimIdle, DialTimeout: timeout, Consumer: name}
			}
			crash := &crashable{}
			a := newReplica(t, replicaConfig{namespace: ns, dialer: newDialer(t, fake.srv.URL, timeout), opts: opts("a"),
				wrap: func(q dispatch.Queue) dispatch.Queue { crash.Queue = q; return crash }})
			id := mustAccept(t, a.url, lead("killed-1", "ana", dest(1)))
			waitState(t, a.st, id, store.Dialing, 5*time.Second)
			eventually(t, 5*time.Second, "the AgentCall reached uContact", func() (bool, string) { return fake.count() == 1, "" })

			// The worker dies while uContact has the request.
			if kill == "crash" {
				crash.dead.Store(true) // its outcome never reaches Redis
			}
			a.stop()
			// Another replica carries on, taking over entries left idle.
			b := newReplica(t, replicaConfig{namespace: ns, dialer: newDialer(t, fake.srv.URL, timeout), opts: opts("b")})

			e := waitState(t, b.st, id, store.Unknown, 10*time.Second)
			if e.Attempts != 1 || fake.count() != 1 {
				t.Fatalf("unknown after %d attempts and %d AgentCalls, want 1 and 1", e.Attempts, fake.count())
			}
			counter := a // the dying worker recorded the unknown outcome itself
			if kill == "crash" {
				counter = b // the replica that took the entry over found it dialing
			}
			// The store turns the event unknown a moment before the worker
			// that found it counts it.
			eventually(t, 5*time.Second, "dialhook_unknown_outcomes_total = 1", func() (bool, string) {
				got := counterValue(counter.m.Interrupts)
				return got == 1, fmt.Sprintf("got %v", got)
			})
			if status, body := httpGet(t, b.url+"/events?state=unknown"); status != http.StatusOK || !strings.Contains(body, id) {
				t.Fatalf("GET /events?state=unknown = %d %s", status, body)
			}

			// Deliberately dialed again: exactly one more AgentCall.
			fake.setAnswer(nil)
			resp, err := http.Post(b.url+"/events/"+id+"/redial", "", nil)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("redial = %v %v", resp, err)
			}
			resp.Body.Close()
			e = waitState(t, b.st, id, store.Placed, 10*time.Second)
			if e.Attempts != 2 || len(e.Redials) != 1 || e.Redials[0].Client != "127.0.0.1" || fake.count() != 2 {
				t.Fatalf("after redial: attempts %d redials %+v AgentCalls %d", e.Attempts, e.Redials, fake.count())
			}
			resp, err = http.Post(b.url+"/events/"+id+"/redial", "", nil)
			if err != nil || resp.StatusCode != http.StatusConflict {
				t.Fatalf("redial of a placed event = %v %v", resp, err)
			}
			resp.Body.Close()
			if calls := fake.byDestination(); calls[dest(1)] != 2 || len(calls) != 1 {
				t.Fatalf("AgentCalls = %v", calls)
			}
		})
	}
}

// closedURL is the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// Which answers are retried, and how the events end.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	guid := func() (int, string) { return http.StatusOK, uuid.NewString() }
	tests := []struct {
		name     string
		answer   answerFunc
		refused  bool // uContact's port is closed
		unknown  bool // DIALHOOK_RETRY_UNKNOWN
		events   int
		want     store.State
		kind     string
		attempts int // per event; 0: check the total instead
		total    int // AgentCalls in all
		unknowns int // dialhook_unknown_outcomes_total: every unknown outcome, retried ones included
	}{
		{name: "503 to the first 4 requests, then placed", events: 3, want: store.Placed, total: 3 + 4,
			answer: func(n int, _ url.Values, w http.ResponseWriter, _ *http.Request) (int, string) {
				if n <= 4 {
					return http.StatusServiceUnavailable, "busy"
				}
				return guid()
			}},
		{name: "0 is rejected after one attempt", events: 2, want: store.Rejected, kind: "rejected", attempts: 1, total: 2,
			answer: func(int, url.Values, http.ResponseWriter, *http.Request) (int, string) { return http.StatusOK, "0" }},
		{name: "401 fails after one attempt", events: 2, want: store.Failed, kind: "unauthorized", attempts: 1, total: 2,
			answer: func(int, url.Values, http.ResponseWriter, *http.Request) (int, string) {
				return http.StatusUnauthorized, ""
			}},
		{name: "connection refused fails after RetryMax attempts", events: 2, refused: true, want: store.Failed, kind: "connect", attempts: 3},
		{name: "a hang past the timeout is unknown, not retried", events: 2, want: store.Unknown, kind: "unknown", attempts: 1, total: 2, unknowns: 2,
			answer: func(_ int, _ url.Values, _ http.ResponseWriter, r *http.Request) (int, string) { return hang(r) }},
		{name: "a hang is retried with RetryUnknown", events: 2, unknown: true, want: store.Unknown, kind: "unknown", attempts: 3, total: 6, unknowns: 6,
			answer: func(_ int, _ url.Values, _ http.ResponseWriter, r *http.Request) (int, string) { return hang(r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, tt.answer)
			base := fake.srv.URL
			if tt.refused {
				base = closedURL(t)
			}
			r := newReplica(t, replicaConfig{namespace: testredis.Namespace(t), dialer: newDialer(t, base, timeout),
				opts: dispatch.Options{Workers: 4, RetryMax: 3, RetryUnknown: tt.unknown, RetryBase: 10 * time.Millisecond,
					RetryCap: 50 * time.Millisecond, DialTimeout: timeout, ClaimIdle: 5 * time.Second}})
			var ids []string
			for i := 0; i < tt.events; i++ {
				ids = append(ids, mustAccept(t, r.url, lead(fmt.Sprintf("retry-%d", i), fmt.Sprintf("agent-%d", i), dest(i))))
			}
			attempts := 0
			for i, id := range ids {
				e := waitFinal(t, r.st, id, 10*time.Second)
				if e.State != tt.want || (tt.kind != "" && e.ErrorKind != tt.kind) {
					t.Fatalf("event %d ended %s (%s: %s), want %s (%s)", i, e.State, e.ErrorKind, e.Error, tt.want, tt.kind)
				}
				if tt.attempts != 0 && e.Attempts != tt.attempts {
					t.Fatalf("event %d: %d attempts, want %d", i, e.Attempts, tt.attempts)
				}
				if !tt.refused && fake.byDestination()[dest(i)] != e.Attempts {
					t.Fatalf("event %d: %d attempts but %d AgentCalls", i, e.Attempts, fake.byDestination()[dest(i)])
				}
				attempts += e.Attempts
			}
			if !tt.refused && (fake.count() != tt.total || attempts != tt.total) {
				t.Fatalf("%d AgentCalls and %d attempts, want %d", fake.count(), attempts, tt.total)
			}
			if got := counterValue(r.m.Interrupts); got != float64(tt.unknowns) {
				t.Errorf("dialhook_unknown_outcomes_total = %v, want %d", got, tt.unknowns)
			}
			// The console's health page: the last answer and the last error.
			st := r.disp.Status()
			if st.Calls != int64(attempts) || (tt.want == store.Placed) == st.LastOK.IsZero() || st.LastErrorAt.IsZero() ||
				(tt.kind != "" && !strings.HasPrefix(st.LastError, tt.kind+": ")) {
				t.Errorf("status = %+v after %d attempts", st, attempts)
			}
		})
	}
}

// Redis killed and restarted under a running replica.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	t.Run("persistent", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		srv := testredis.StartPersistent(t, "", dir)
		t.Cleanup(func() { srv.Stop() })
		fake := newFake(t, func(int, url.Values, http.ResponseWriter, *http.Request) (int, string) {
			time.Sleep(30 * time.Millisecond)
			return http.StatusOK, uuid.NewString()
		})
		r := newReplica(t, replicaConfig{redisURL: "redis://" + srv.Addr + "/0", namespace: testredis.Namespace(t),
			dialer: newDialer(t, fake.srv.URL, time.Second),
			// A claim idle time longer than the outage: the replica is alive
			// and finishes its own calls once Redis is back.
			opts: dispatch.Options{Workers: 2, Concurrency: 1, DialTimeout: time.Second, ClaimIdle: 10 * time.Second}})
		ctx := context.Background()

		// A backlog builds up: uContact is slower than the webhooks.
		accepted := map[string]int{} // id → event number
		i := 0
		for ; i < 20; i++ {
			accepted[mustAccept(t, r.url, lead(fmt.Sprintf("rr-%d", i), fmt.Sprintf("agent-%d", i), dest(i)))] = i
		}
		eventually(t, 10*time.Second, "a few calls placed", func() (bool, string) {
			st, err := r.st.Stats(ctx, time.Now())
			return err == nil && st.ByState[store.Placed] >= 3, fmt.Sprint(st, err)
		})

		// Redis crashes with calls queued and one in flight.
		srv.Stop()
		if status, body := httpGet(t, r.url+"/readyz"); status != http.StatusServiceUnavailable {
			t.Fatalf("/readyz during the outage = %d %s", status, body)
		}
		for j := i; j < i+5; j++ {
			if a := deliver(t, r.url, lead(fmt.Sprintf("rr-%d", j), fmt.Sprintf("agent-%d", j), dest(j))); a.status != http.StatusServiceUnavailable {
				t.Fatalf("webhook during the outage = %d %+v", a.status, a)
			}
		}

		srv = testredis.StartPersistent(t, srv.Addr, dir)
		eventually(t, 10*time.Second, "/readyz after the restart", func() (bool, string) {
			status, body := httpGet(t, r.url+"/readyz")
			return status == http.StatusOK, body
		})
		// The sender retries what got 503, and sends more.
		for ; i < 40; i++ {
			accepted[mustAccept(t, r.url, lead(fmt.Sprintf("rr-%d", i), fmt.Sprintf("agent-%d", i), dest(i)))] = i
		}
		for id, n := range accepted {
			if e := waitFinal(t, r.st, id, 20*time.Second); e.State != store.Placed || e.Attempts != 1 {
				t.Fatalf("event %d ended %s after %d attempts: %s", n, e.State, e.Attempts, e.Error)
			}
		}
		calls := fake.byDestination()
		for n := 0; n < 40; n++ {
			if calls[dest(n)] != 1 {
				t.Fatalf("event %d dialed %d times", n, calls[dest(n)])
			}
		}
		if len(calls) != 40 {
			t.Fatalf("%d destinations dialed, want 40", len(calls))
		}
	})

	t.Run("data lost", func(t *testing.T) {
		t.Parallel()
		srv := testredis.Start(t, "")
		t.Cleanup(func() { srv.Stop() })
		fake := newFake(t, nil)
		r := newReplica(t, replicaConfig{redisURL: "redis://" + srv.Addr + "/0", namespace: testredis.Namespace(t),
			dialer: newDialer(t, fake.srv.URL, time.Second), opts: dispatch.Options{Workers: 2, DialTimeout: time.Second}})
		waitState(t, r.st, mustAccept(t, r.url, lead("dl-0", "ana", dest(0))), store.Placed, 10*time.Second)

		srv.Stop()
		if a := deliver(t, r.url, lead("dl-1", "ana", dest(1))); a.status != http.StatusServiceUnavailable {
			t.Fatalf("webhook during the outage = %d %+v", a.status, a)
		}
		// Back empty: no stream, no consumer group. The workers recreate
		// them on their own.
		srv = testredis.Start(t, srv.Addr)
		eventually(t, 10*time.Second, "/readyz after the restart", func() (bool, string) {
			status, body := httpGet(t, r.url+"/readyz")
			return status == http.StatusOK, body
		})
		for i := 1; i <= 3; i++ {
			waitState(t, r.st, mustAccept(t, r.url, lead(fmt.Sprintf("dl-%d", i), fmt.Sprintf("agent-%d", i), dest(i))), store.Placed, 15*time.Second)
		}
		if fake.count() != 4 {
			t.Fatalf("%d AgentCalls, want 4", fake.count())
		}
	})
}

// promotions records the clock of each Promote that finished.
type promotions struct {
	dispatch.Queue
	mu   sync.Mutex
	seen []time.Time
}

func (p *promotions) Promote(ctx context.Context, now time.Time) (int, error) {
	n, err := p.Queue.Promote(ctx, now)
	if err == nil {
		p.mu.Lock()
		p.seen = append(p.seen, now)
		p.mu.Unlock()
	}
	return n, err
}

// since counts the finished promotions whose clock was at least t.
func (p *promotions) since(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.seen {
		if !s.Before(t) {
			n++
		}
	}
	return n
}

// An event outside the call window waits for the opening of the injected
// clock; so does a retry that would fall after the closing.
func TestCallWindow(t *testing.T) {
	t.Parallel()
	win, err := schedule.Parse("America/Montevideo", []string{"mon-fri"}, "09:00", "18:00", 0)
	if err != nil {
		t.Fatal(err)
	}
	mvd, _ := time.LoadLocation("America/Montevideo")
	at := func(day, hh, mm, ss int) time.Time { return time.Date(2025, time.January, day, hh, mm, ss, 0, mvd) }
	clk := &clock{now: at(6, 20, 0, 0)} // Monday 20:00, closed
	var busy atomic.Bool
	fake := newFake(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) (int, string) {
		if busy.Load() {
			w.Header().Set("Retry-After", "5")
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, uuid.NewString()
	})
	proms := &promotions{}
	r := newReplica(t, replicaConfig{namespace: testredis.Namespace(t), dialer: newDialer(t, fake.srv.URL, time.Second),
		now: clk.Now, window: win, wrap: func(q dispatch.Queue) dispatch.Queue { proms.Queue = q; return proms },
		opts: dispatch.Options{Workers: 2, RetryCap: time.Hour}})

	a := deliver(t, r.url, lead("win-1", "ana", dest(1)))
	opening := at(7, 9, 0, 0)
	if a.status != http.StatusAccepted || a.Status != "scheduled" || a.DueAt == nil || !a.DueAt.Equal(opening) {
		t.Fatalf("webhook at 20:00 = %d %+v, want scheduled for %s", a.status, a, opening)
	}
	e, err := r.st.Get(context.Background(), a.EventID)
	if err != nil || e.State != store.Scheduled || e.DueAt == nil || !e.DueAt.Equal(opening) {
		t.Fatalf("record = %+v %v", e, err)
	}

	// A second before the opening: promoted no matter how often, still waiting.
	clk.Set(opening.Add(-time.Second))
	eventually(t, 5*time.Second, "promotions at 08:59:59", func() (bool, string) { return proms.since(opening.Add(-time.Second)) >= 3, "" })
	if e, _ := r.st.Get(context.Background(), a.EventID); e.State != store.Scheduled || fake.count() != 0 {
		t.Fatalf("before the opening: state %s, %d AgentCalls", e.State, fake.count())
	}

	clk.Set(opening)
	if e := waitState(t, r.st, a.EventID, store.Placed, 10*time.Second); e.Attempts != 1 || fake.count() != 1 {
		t.Fatalf("at the opening: %d attempts, %d AgentCalls", e.Attempts, fake.count())
	}

	// At 17:59:58 uContact asks for 5 s: the retry would fall after 18:00,
	// so it waits for Wednesday's opening.
	clk.Set(at(7, 17, 59, 58))
	busy.Store(true)
	id := mustAccept(t, r.url, lead("win-2", "bruno", dest(2)))
	next := at(8, 9, 0, 0)
	eventually(t, 10*time.Second, "retry scheduled for the next opening", func() (bool, string) {
		e, err := r.st.Get(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return e.State == store.Queued && e.Attempts == 1 && e.DueAt != nil && e.DueAt.Equal(next), fmt.Sprintf("%s attempts %d due %v", e.State, e.Attempts, e.DueAt)
	})
	busy.Store(false)
	clk.Set(at(7, 18, 0, 5))
	eventually(t, 5*time.Second, "promotions at 18:00:05", func() (bool, string) { return proms.since(at(7, 18, 0, 5)) >= 3, "" })
	if e, _ := r.st.Get(context.Background(), id); e.State != store.Queued || fake.count() != 2 {
		t.Fatalf("after closing: state %s, %d AgentCalls", e.State, fake.count())
	}
	clk.Set(next)
	if e := waitState(t, r.st, id, store.Placed, 10*time.Second); e.Attempts != 2 || fake.count() != 3 {
		t.Fatalf("at the next opening: %d attempts, %d AgentCalls", e.Attempts, fake.count())
	}
}

// One agent's calls never overlap, across replicas, and keep min_gap.
func TestAgentPacing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		events int
		gap    time.Duration
	}{{"no overlap", 20, 0}, {"min gap", 8, 150 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, func(int, url.Values, http.ResponseWriter, *http.Request) (int, string) {
				time.Sleep(100 * time.Millisecond)
				return http.StatusOK, uuid.NewString()
			})
			ns := testredis.Namespace(t)
			var reps []*replica
			for i := 0; i < 2; i++ {
				reps = append(reps, newReplica(t, replicaConfig{namespace: ns, dialer: newDialer(t, fake.srv.URL, time.Second),
					opts: dispatch.Options{Workers: 4, DialTimeout: time.Second, MinGap: tc.gap}}))
			}
			var ids []string
			for i := 0; i < tc.events; i++ {
				ids = append(ids, mustAccept(t, reps[i%2].url, lead(fmt.Sprintf("pace-%d", i), "ana", dest(i))))
			}
			for _, id := range ids {
				if e := waitState(t, reps[0].st, id, store.Placed, 20*time.Second); e.Attempts != 1 {
					t.Fatalf("event %s placed after %d attempts", id, e.Attempts)
				}
			}
			calls := fake.snapshot()
			if len(calls) != tc.events {
				t.Fatalf("%d AgentCalls, want %d", len(calls), tc.events)
			}
			fake.mu.Lock()
			maxIn := fake.maxInflight
			fake.mu.Unlock()
			if maxIn != 1 {
				t.Fatalf("%d calls of one agent in flight at once", maxIn)
			}
			sort.Slice(calls, func(i, j int) bool { return calls[i].start.Before(calls[j].start) })
			for i := 1; i < len(calls); i++ {
				// The gap is kept by Redis, in whole milliseconds.
				if gap := calls[i].start.Sub(calls[i-1].end); gap < tc.gap-time.Millisecond {
					t.Fatalf("call %d began %s after the previous one ended, want at least %s", i, gap, tc.gap)
				}
			}
		})
	}
}

// slowDialer takes a while per call and tracks how many overlap.
type slowDialer struct {
	took           time.Duration
	mu             sync.Mutex
	inflight, most int
	calls          int
}

func (s *slowDialer) AgentCall(ctx context.Context, p ucontact.Params) (uuid.UUID, error) {
	s.mu.Lock()
	s.inflight++
	s.calls++
	s.most = max(s.most, s.inflight)
	s.mu.Unlock()
	time.Sleep(s.took)
	s.mu.Lock()
	s.inflight--
	s.mu.Unlock()
	return uuid.New(), nil
}

// The embedded store paces one agent's calls the same way: the next call
// starts when the previous one ends, not when its slot's hold runs out.
func TestAgentPacingMemory(t *testing.T) {
	t.Parallel()
	st := store.NewMemory(store.MemoryOptions{Retention: time.Hour, QueueMax: 100})
	dialer := &slowDialer{took: 50 * time.Millisecond}
	d := dispatch.New(st, dialer, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), metrics.New(nil),
		dispatch.Options{Workers: 4, DialTimeout: time.Second, Poll: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx, ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var ids []string
	for i := 0; i < 10; i++ {
		now := time.Now().UTC()
		e := &store.Event{ID: uuid.NewString(), Source: "generic", Kind: "generic", ReceivedAt: now, UpdatedAt: now, State: store.Queued,
			Params: ucontact.Params{CallerID: "1", Agent: "ana", Phone: "100", Tech: "SIP", Context: "agentes", OutQueue: "Q", Destination: dest(i)}}
		if _, err := st.Accept(ctx, []store.Submission{{Event: e, DedupKey: e.ID, DedupTTL: time.Hour}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	for _, id := range ids {
		waitState(t, st, id, store.Placed, 10*time.Second)
	}
	dialer.mu.Lock()
	defer dialer.mu.Unlock()
	if dialer.most != 1 || dialer.calls != 10 {
		t.Fatalf("%d calls, at most %d at once; want 10, 1", dialer.calls, dialer.most)
	}
}
