package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"dialhook/crm"
	"dialhook/dispatch"
	"dialhook/handlers"
	"dialhook/intake"
	"dialhook/internal/testredis"
	"dialhook/mapping"
	"dialhook/metrics"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/ucontact"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

const agentCallPath = "/Integra/resources/Agents/AgentCall"

// call is one AgentCall the fake received.
type call struct {
	form       url.Values
	start, end time.Time
}

// fakeUContact is an AgentCall endpoint that records every request. answer
// decides each answer; it may block (it should give up when r's context
// ends).
type fakeUContact struct {
	srv *httptest.Server

	mu          sync.Mutex
	calls       []call
	inflight    map[string]int // by agent
	maxInflight int            // most calls in flight for one agent
	answer      answerFunc
}

// answerFunc answers the n-th AgentCall (from 1); it may set headers on w.
type answerFunc func(n int, form url.Values, w http.ResponseWriter, r *http.Request) (int, string)

func newFake(t *testing.T, answer answerFunc) *fakeUContact {
	t.Helper()
	f := &fakeUContact{answer: answer, inflight: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != agentCallPath {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		agent := r.PostForm.Get("agent")
		f.mu.Lock()
		n := len(f.calls)
		f.calls = append(f.calls, call{form: r.PostForm, start: time.Now()})
		f.inflight[agent]++
		f.maxInflight = max(f.maxInflight, f.inflight[agent])
		answer := f.answer
		f.mu.Unlock()
		status, body := http.StatusOK, uuid.NewString()
		if answer != nil {
			status, body = answer(n+1, r.PostForm, w, r)
		}
		f.mu.Lock()
		f.inflight[agent]--
		f.calls[n].end = time.Now()
		f.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUContact) setAnswer(a answerFunc) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

// count is the number of AgentCalls received in all.
func (f *fakeUContact) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// byDestination counts AgentCalls by destination number.
func (f *fakeUContact) byDestination() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, c := range f.calls {
		out[c.form.Get("destination")]++
	}
	return out
}

func (f *fakeUContact) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// hang blocks until the client gives up (or the server closes).
func hang(r *http.Request) (int, string) {
	<-r.Context().Done()
	return http.StatusGatewayTimeout, ""
}

// newDialer is a uContact client for the fake with the given timeout.
func newDialer(t *testing.T, base string, timeout time.Duration) *ucontact.Client {
	t.Helper()
	c, err := ucontact.New(ucontact.Config{BaseURL: base, Token: "dG9rZW4=", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clock is an injectable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// replica is one dialhook replica built the way serve does: a store client,
// the HTTP server and a dispatcher, sharing a Redis namespace with the
// other replicas of the test.
type replica struct {
	st   *store.Redis
	m    *metrics.Metrics
	url  string // base URL of its HTTP server
	disp *dispatch.Dispatcher

	stopWork, stopDials context.CancelFunc
	done                chan struct{}
}

type replicaConfig struct {
	redisURL  string // default testredis.URL(t)
	namespace string
	dialer    dispatch.Dialer
	opts      dispatch.Options
	now       func() time.Time
	window    *schedule.Window
	// wrap, when set, wraps the store as the dispatcher sees it.
	wrap func(dispatch.Queue) dispatch.Queue
	// idle: start no dispatcher (start it later with run).
	idle bool
}

func genericSource(t *testing.T, w *schedule.Window) map[string]*intake.Source {
	t.Helper()
	ad, err := crm.New(crm.Config{Name: "generic", Kind: "generic"})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := mapping.Compile(mapping.Spec{
		Source: "generic", Kind: "generic", Preset: ad.Preset(),
		GlobalDefaults: ucontact.Params{CallerID: "59821234567", Tech: "SIP", Context: "agentes", OutQueue: "Ventas->"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*intake.Source{"generic": {Name: "generic", Adapter: ad, Mapper: mp, Window: w}}
}

func newReplica(t *testing.T, cfg replicaConfig) *replica {
	t.Helper()
	if cfg.redisURL == "" {
		cfg.redisURL = testredis.URL(t)
	}
	// Retention a month: tests move a fake clock hours ahead, and the
	// housekeeping deletes records received before the retention.
	st, err := store.OpenRedis(context.Background(), cfg.redisURL, store.RedisOptions{Namespace: cfg.namespace, Retention: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	m := metrics.New(func(ctx context.Context) (store.Stats, error) { return st.Stats(ctx, time.Now()) })
	srcs := genericSource(t, cfg.window)
	srv := handlers.New(handlers.Options{Log: log, Store: st, Metrics: m, Sources: srcs, DedupWindow: time.Hour, Now: cfg.now, WaitPoll: 10 * time.Millisecond})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	o := cfg.opts
	if o.Now == nil {
		o.Now = cfg.now
	}
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.Window == nil && cfg.window != nil {
		o.Window = func(source, _ string) *schedule.Window {
			if source == "generic" {
				return cfg.window
			}
			return nil
		}
	}
	var q dispatch.Queue = st
	if cfg.wrap != nil {
		q = cfg.wrap(st)
	}
	dialer := cfg.dialer
	if dialer == nil {
		dialer = dispatch.DryRun{}
	}
	r := &replica{st: st, m: m, url: ts.URL, disp: dispatch.New(q, dialer, log, m, o)}
	if !cfg.idle {
		r.run(t)
	}
	return r
}

// run starts the dispatcher; it is stopped (both contexts cancelled) when
// the test ends, or earlier with stop.
func (r *replica) run(t *testing.T) {
	work, stopWork := context.WithCancel(context.Background())
	dials, stopDials := context.WithCancel(context.Background())
	r.stopWork, r.stopDials, r.done = stopWork, stopDials, make(chan struct{})
	go func() {
		defer close(r.done)
		r.disp.Run(work, dials)
	}()
	t.Cleanup(r.stop)
}

// stop cancels both contexts, as a kill would, and waits for Run to return.
func (r *replica) stop() {
	if r.done == nil {
		return
	}
	r.stopWork()
	r.stopDials()
	<-r.done
}

// lead is a generic webhook body for event id, agent and destination.
func lead(id, agent, dest string) string {
	return fmt.Sprintf(`{"event_id":%q,"agent":%q,"phone":"1001","destination":%q}`, id, agent, dest)
}

// dest is a distinct valid Uruguayan mobile number for i.
func dest(i int) string { return fmt.Sprintf("59899%06d", i) } // valid UY mobiles: 099 000 000 + i

type answer struct {
	status  int
	EventID string     `json:"event_id"`
	Status  string     `json:"status"`
	DueAt   *time.Time `json:"due_at"`
}

// deliver posts a webhook and decodes the answer; a transport error is
// status 0.
func deliver(t testing.TB, base, body string) answer {
	t.Helper()
	resp, err := http.Post(base+"/webhooks/generic", "application/json", strings.NewReader(body))
	if err != nil {
		return answer{}
	}
	defer resp.Body.Close()
	var a answer
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Errorf("answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	a.status = resp.StatusCode
	return a
}

func mustAccept(t testing.TB, base, body string) string {
	t.Helper()
	a := deliver(t, base, body)
	if a.status/100 != 2 || a.EventID == "" {
		t.Fatalf("webhook answered %d %+v", a.status, a)
	}
	return a.EventID
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, within, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitState waits until the event is in state want and returns it.
func waitState(t testing.TB, st store.Store, id string, want store.State, within time.Duration) *store.Event {
	t.Helper()
	var e *store.Event
	eventually(t, within, "event "+id+" "+string(want), func() (bool, string) {
		var err error
		e, err = st.Get(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return e.State == want, fmt.Sprintf("state %s attempts %d error %q", e.State, e.Attempts, e.Error)
	})
	return e
}

// waitFinal waits until the event is in a final state and returns it.
func waitFinal(t testing.TB, st store.Store, id string, within time.Duration) *store.Event {
	t.Helper()
	var e *store.Event
	eventually(t, within, "event "+id+" final", func() (bool, string) {
		var err error
		e, err = st.Get(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return e.State.Final(), fmt.Sprintf("state %s attempts %d", e.State, e.Attempts)
	})
	return e
}

func httpGet(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 { return testutil.ToFloat64(c) }
