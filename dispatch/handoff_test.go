package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"dialhook/dispatch"
	"dialhook/metrics"
	"dialhook/store"
	"dialhook/ucontact"
)

const (
	dialerTaskPath   = "/Integra/resources/Dialers/DialerTask"
	callWithDataPath = "/Integra/resources/Agents/AgentCallwithData"
)

// request is one request the path fake received.
type request struct {
	path string
	form url.Values
}

// pathFake answers each uContact resource with its own function; a path
// without one answers 404, as a uContact that lacks the resource does.
type pathFake struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []request
}

func newPathFake(t *testing.T, answers map[string]func(r *http.Request) (int, string)) *pathFake {
	t.Helper()
	f := &pathFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.got = append(f.got, request{path: r.URL.Path, form: r.PostForm})
		f.mu.Unlock()
		answer, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		status, body := answer(r)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *pathFake) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.got...)
}

func answerWith(body string) func(*http.Request) (int, string) {
	return func(*http.Request) (int, string) { return http.StatusOK, body }
}

// runHandoff accepts one event per dial spec into a memory store, runs a
// dispatcher on the fake until every event is final, and returns them.
func runHandoff(t *testing.T, f *pathFake, opts dispatch.Options, log *zap.Logger, dials ...*store.DialSpec) []*store.Event {
	t.Helper()
	st := store.NewMemory(store.MemoryOptions{})
	ids := make([]string, len(dials))
	for i, d := range dials {
		now := time.Now().UTC()
		e := &store.Event{ID: uuid.NewString(), Source: "crm", Kind: "generic", ReceivedAt: now, UpdatedAt: now, State: store.Queued,
			Params: dialParams(d), Dial: d, DedupKey: uuid.NewString()}
		acc, err := st.Accept(context.Background(), []store.Submission{{Event: e, DedupKey: "crm:" + e.DedupKey, DedupTTL: time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = acc[0].Event.ID
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts.Poll = 10 * time.Millisecond
	m := metrics.New(func(ctx context.Context) (store.Stats, error) { return st.Stats(ctx, time.Now()) })
	d := dispatch.New(st, newDialer(t, f.srv.URL, 300*time.Millisecond), log, m, opts)
	work, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(work, context.Background()) }()
	defer func() { stop(); <-done }()
	out := make([]*store.Event, len(ids))
	for i, id := range ids {
		out[i] = waitFinal(t, st, id, 5*time.Second)
	}
	return out
}

func dialParams(d *store.DialSpec) (p ucontact.Params) {
	p.CallerID, p.Tech, p.Context, p.OutQueue, p.Destination = "59821234567", "SIP", "agentes", "Ventas->", "59899000001"
	if d == nil || d.Mode != store.DialDialerTask {
		p.Phone = "1001" // no agent: no pacing slot to wait for between the test's calls
	}
	return p
}

// The lead goes to Dialers/DialerTask in one form field, call, holding
// every key in the documented order; an answer other than 0 is kept as it
// came and the event ends handed_off.
func TestDialerTaskHandsOff(t *testing.T) {
	f := newPathFake(t, map[string]func(*http.Request) (int, string){dialerTaskPath: answerWith(" 4711 \n")})
	evs := runHandoff(t, f, dispatch.Options{}, nil,
		&store.DialSpec{Mode: store.DialDialerTask, Campaign: "POWER<-", Data: "crm=generic&dest={destination}", Alternatives: "59899000002,59899000003"},
		&store.DialSpec{Mode: store.DialDialerTask, Campaign: "POWER<-", CallDate: "2026-11-30 09:00:00"})
	if evs[0].State != store.HandedOff || evs[0].DialerAnswer != "4711" || evs[0].CallGUID != "" {
		t.Fatalf("event: state %s, dialer answer %q, guid %q", evs[0].State, evs[0].DialerAnswer, evs[0].CallGUID)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.path != dialerTaskPath || len(r.form) != 1 || len(r.form["call"]) != 1 {
			t.Fatalf("request to %s with form %v: want one field, call", r.path, r.form)
		}
	}
	first, second := reqs[0].form.Get("call"), reqs[1].form.Get("call")
	if strings.Contains(first, `"calldate":"`) { // the two events were sent in either order
		first, second = second, first
	}
	keys, obj := jsonKeys(t, first)
	if strings.Join(keys, ",") != "calldate,campaign,destination,alternatives,agent,data,source,bulk,automatic" {
		t.Errorf("keys %v", keys)
	}
	want := map[string]any{"calldate": nil, "campaign": "POWER<-", "destination": "59899000001", "alternatives": "59899000002,59899000003",
		"agent": "", "data": "crm=generic&dest=59899000001", "source": "crm", "bulk": false, "automatic": true}
	for k, v := range want {
		if obj[k] != v {
			t.Errorf("%s = %#v, want %#v", k, obj[k], v)
		}
	}
	if !strings.Contains(first, `"POWER<-"`) {
		t.Errorf("the campaign is escaped: %s", first)
	}
	if _, obj := jsonKeys(t, second); obj["calldate"] != "2026-11-30 09:00:00" {
		t.Errorf("calldate = %#v", obj["calldate"])
	}
}

// jsonKeys decodes a JSON object, keeping its keys in order.
func jsonKeys(t *testing.T, s string) ([]string, map[string]any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", s)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	obj := map[string]any{}
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		t.Fatal(err)
	}
	return keys, obj
}

// "0" is rejected; a long answer is kept cut to 200 bytes; a timeout after
// sending is unknown and is not sent again.
func TestDialerTaskAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(*http.Request) (int, string)
		state  store.State
		sent   int
		raw    string
	}{
		{"zero", answerWith("0"), store.Rejected, 1, ""},
		{"long", answerWith(strings.Repeat("x", 300)), store.HandedOff, 1, strings.Repeat("x", 200)},
		{"timeout", func(r *http.Request) (int, string) { return hang(r) }, store.Unknown, 1, ""},
		{"unavailable then ok", flaky(), store.HandedOff, 2, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPathFake(t, map[string]func(*http.Request) (int, string){dialerTaskPath: tc.answer})
			ev := runHandoff(t, f, dispatch.Options{RetryMax: 5, RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond}, nil,
				&store.DialSpec{Mode: store.DialDialerTask, Campaign: "POWER<-"})[0]
			if ev.State != tc.state || ev.DialerAnswer != tc.raw {
				t.Errorf("state %s answer %q (%s), want %s %q", ev.State, ev.DialerAnswer, ev.Error, tc.state, tc.raw)
			}
			if n := len(f.requests()); n != tc.sent {
				t.Errorf("%d requests, want %d", n, tc.sent)
			}
		})
	}
}

// flaky answers 503 (nothing placed: retried), then "ok".
func flaky() func(*http.Request) (int, string) {
	var mu sync.Mutex
	n := 0
	return func(*http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == 1 {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, "ok"
	}
}

// With ucontact.with_data an AgentCall goes to AgentCallwithData with the
// data field; without it, to AgentCall without data.
func TestAgentCallWithData(t *testing.T) {
	guid := uuid.NewString()
	f := newPathFake(t, map[string]func(*http.Request) (int, string){callWithDataPath: answerWith(guid), agentCallPath: answerWith(uuid.NewString())})
	ev := runHandoff(t, f, dispatch.Options{WithData: true}, nil, &store.DialSpec{Mode: store.DialAgentCall, Data: "crm=hubspot&id=42&to={destination}"})[0]
	reqs := f.requests()
	if ev.State != store.Placed || ev.CallGUID != guid || len(reqs) != 1 || reqs[0].path != callWithDataPath {
		t.Fatalf("state %s guid %s, requests %v", ev.State, ev.CallGUID, reqs)
	}
	if got := reqs[0].form.Get("data"); got != "crm=hubspot&id=42&to=59899000001" || reqs[0].form.Get("destination") != "59899000001" {
		t.Errorf("data = %q, form %v", got, reqs[0].form)
	}

	f = newPathFake(t, map[string]func(*http.Request) (int, string){agentCallPath: answerWith(guid)})
	runHandoff(t, f, dispatch.Options{WithData: false}, nil, &store.DialSpec{Mode: store.DialAgentCall, Data: "crm=hubspot"})
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].path != agentCallPath || reqs[0].form.Has("data") {
		t.Errorf("without with_data: %v", reqs)
	}
}

// A uContact without AgentCallwithData answers 404: the call is placed
// with AgentCall instead, the error is logged once, and later calls go to
// AgentCall straight away.
func TestAgentCallWithDataFallsBack(t *testing.T) {
	f := newPathFake(t, map[string]func(*http.Request) (int, string){agentCallPath: answerWith(uuid.NewString())})
	core, logs := observer.New(zapcore.ErrorLevel)
	data := &store.DialSpec{Mode: store.DialAgentCall, Data: "crm=x"}
	evs := runHandoff(t, f, dispatch.Options{WithData: true, Concurrency: 1, Workers: 1}, zap.New(core), data, data, data)
	for _, ev := range evs {
		if ev.State != store.Placed {
			t.Errorf("event %s: %s (%s)", ev.ID, ev.State, ev.Error)
		}
	}
	var paths []string
	for _, r := range f.requests() {
		paths = append(paths, r.path)
	}
	want := []string{callWithDataPath, agentCallPath, agentCallPath, agentCallPath}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("requests %v, want %v", paths, want)
	}
	var about404 int
	for _, e := range logs.All() {
		if strings.Contains(e.Message, "AgentCallwithData") {
			about404++
		}
	}
	if about404 != 1 {
		var b bytes.Buffer
		for _, e := range logs.All() {
			b.WriteString(e.Message + "\n")
		}
		t.Errorf("%d log lines about the 404, want 1:\n%s", about404, b.String())
	}
}
