package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"dialhook/crm"
	"dialhook/dispatch"
	"dialhook/handlers"
	"dialhook/intake"
	"dialhook/internal/samples"
	"dialhook/internal/testredis"
	"dialhook/mapping"
	"dialhook/metrics"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/ucontact"
)

// testNow is the server's clock in every test: Wednesday 2026-11-25 12:00 UTC.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Credentials of this package's tests; the sources' are samples'. Every
// one of them must stay out of answers and logs.
const (
	ucToken    = "dWMtdG9rZW4tc2VjcmV0"
	adminToken = "admin-token-7777"
)

// secrets lists what must never be shown to a client or logged.
var secrets = []string{samples.HubSpotSecret, samples.PipedrivePassword, samples.ZohoToken, samples.DynamicsKey,
	samples.DynamicsHeaderKey, samples.DynamicsQueryKey, samples.CloseKey, samples.StandardSecret, samples.GenericToken, ucToken, adminToken}

// Numbers the fake uContact treats specially.
const (
	rejectDest   = "59899000000" // uContact answers "0" for this destination
	sentinelDest = "59899999999" // settle()'s marker calls, not counted by calls()
)

// fakeUContact is an AgentCall endpoint that records every call and
// answers a fresh GUID, or "0" for rejectDest.
type fakeUContact struct {
	mu    sync.Mutex
	forms []url.Values
	guids []string
	auths []string
	srv   *httptest.Server
}

func newFakeUContact(t *testing.T) *fakeUContact {
	f := &fakeUContact{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Integra/resources/Agents/AgentCall" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		answer := uuid.NewString()
		if r.PostForm.Get("destination") == rejectDest {
			answer = "0"
		}
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		f.guids = append(f.guids, answer)
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		f.mu.Unlock()
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// calls returns the forms of every AgentCall except settle()'s markers.
func (f *fakeUContact) calls() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []url.Values
	for _, form := range f.forms {
		if form.Get("destination") != sentinelDest {
			out = append(out, form)
		}
	}
	return out
}

// answers returns what uContact answered, in order (markers included).
func (f *fakeUContact) answers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.guids...)
}

// testSources builds the sources like serve.go's buildSources does.
func testSources(t *testing.T) map[string]*intake.Source {
	t.Helper()
	type def struct {
		cfg      crm.Config
		rules    map[string]any
		defaults ucontact.Params
		bare     bool // no defaults at all
		when     string
		dncOn    string
		cooldown time.Duration
		window   *schedule.Window
	}
	// Closed at testNow (12:00 UTC): opens at 20:00 UTC the same day.
	evening, err := schedule.Parse("UTC", nil, "20:00", "21:00", 0)
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]def{
		"salesforce": {cfg: crm.Config{Kind: "salesforce", OrgIDs: []string{samples.SalesforceOrgID}}},
		"hubspot":    {cfg: crm.Config{Kind: "hubspot", Secret: samples.HubSpotSecret}},
		// Subscription events carry no phone: this source reads the
		// property value and dials through the source's default agent.
		"hubsub": {cfg: crm.Config{Kind: "hubspot", Secret: samples.HubSpotSecret},
			rules:    map[string]any{"destination": "propertyValue"},
			defaults: ucontact.Params{Agent: "1009", Phone: "1009"}},
		"pipedrive": {cfg: crm.Config{Kind: "pipedrive", BasicAuth: &crm.BasicAuth{User: samples.PipedriveUser, Password: samples.PipedrivePassword}}},
		"zoho":      {cfg: crm.Config{Kind: "zoho", Secret: samples.ZohoToken}},
		"dynamics":  {cfg: crm.Config{Kind: "dynamics", Secret: samples.DynamicsKey}},
		"dynhdr": {cfg: crm.Config{Kind: "dynamics", AuthHeaders: map[string]string{"X-Api-Key": samples.DynamicsHeaderKey},
			AuthQuery: map[string]string{"tenant": samples.DynamicsQueryKey}}},
		"close":    {cfg: crm.Config{Kind: "close", Secret: samples.CloseKey}},
		"standard": {cfg: crm.Config{Kind: "standard", Secret: samples.StandardSecret}},
		"generic":  {cfg: crm.Config{Kind: "generic"}},
		"flow":     {cfg: crm.Config{Kind: "generic", Secret: samples.GenericToken}},
		"uc":       {cfg: crm.Config{Kind: "ucontact", Secret: ucEventsToken}},
		"dncflow":  {cfg: crm.Config{Kind: "generic"}, dncOn: `status == "Do not call"`},
		"bare":     {cfg: crm.Config{Kind: "generic"}, bare: true},
		"gated":    {cfg: crm.Config{Kind: "generic"}, when: `priority == "high"`},
		"cool":     {cfg: crm.Config{Kind: "generic"}, cooldown: 10 * time.Minute},
		"windowed": {cfg: crm.Config{Kind: "generic"}, window: evening},
	}
	out := map[string]*intake.Source{}
	for name, d := range defs {
		d.cfg.Name = name
		ad, err := crm.New(d.cfg)
		if err != nil {
			t.Fatal(err)
		}
		spec := mapping.Spec{
			Source: name, Kind: ad.Kind(), Preset: ad.Preset(), Rules: d.rules, When: d.when, DNCOn: d.dncOn, Region: "UY",
			Defaults:       d.defaults,
			GlobalDefaults: ucontact.Params{CallerID: "59829001234", Context: "from-internal", OutQueue: "Ventas->", Tech: "SIP"},
			Agents: mapping.Agents{
				Routes: samples.AgentRoutes(func(a string) mapping.Route { return mapping.Route{Agent: a, Phone: a} }),
			},
		}
		if d.bare {
			spec.GlobalDefaults, spec.Agents = ucontact.Params{}, mapping.Agents{}
		}
		mp, err := mapping.Compile(spec)
		if err != nil {
			t.Fatalf("source %s: %v", name, err)
		}
		out[name] = &intake.Source{Name: name, Adapter: ad, Mapper: mp, Cooldown: d.cooldown, Window: d.window, Secrets: []string{d.cfg.Secret}}
		if d.cfg.BasicAuth != nil {
			out[name].Secrets = append(out[name].Secrets, d.cfg.BasicAuth.Password)
		}
	}
	return out
}

// ucEventsToken is the uc source's token (uContact's event notifications).
const ucEventsToken = "uc-events-token-4242"

// envOptions vary the test environment.
type envOptions struct {
	redis        bool           // real Redis instead of the in-memory store
	store        handlers.Store // replaces the store; no dispatcher then
	queueMax     int
	maxEvents    int // the in-memory store's memory_max_events
	noDispatcher bool
	adminToken   string
	maxBody      int64
	writes       handlers.WriteTimeouts
	recorder     *intake.Recorder // the console's refusal log (nil: none)
	keepRequests bool             // record each event's request
	console      http.Handler
}

// env is a server with its store, dispatcher, fake uContact and logs.
type env struct {
	t       *testing.T
	srv     *handlers.Server
	fake    *fakeUContact
	logs    *observer.ObservedLogs
	metrics *metrics.Metrics
	store   handlers.Store
	seq     int
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, fake: newFakeUContact(t), metrics: metrics.New(nil)}
	core, logs := observer.New(zapcore.InfoLevel)
	e.logs = logs
	log := zap.New(core)

	var qs store.Store
	switch {
	case o.store != nil:
		e.store = o.store
	case o.redis:
		ctx := context.Background()
		// One shard: settle() relies on the queue being served in order.
		rs, err := store.OpenRedis(ctx, testredis.URL(t), store.RedisOptions{Namespace: testredis.Namespace(t), QueueMax: o.queueMax, Shards: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rs.Close() })
		e.store, qs = rs, rs
	default:
		ms := store.NewMemory(store.MemoryOptions{QueueMax: o.queueMax, MaxEvents: o.maxEvents})
		e.store, qs = ms, ms
	}
	if qs != nil && !o.noDispatcher {
		cl, err := ucontact.New(ucontact.Config{BaseURL: e.fake.srv.URL, Token: ucToken, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// One worker and one call in flight: the queue is served in order,
		// which settle() relies on.
		d := dispatch.New(qs, cl, log, e.metrics, dispatch.Options{Workers: 1, Concurrency: 1, DialTimeout: 5 * time.Second, Poll: 20 * time.Millisecond, RetryBase: 10 * time.Millisecond,
			Now: func() time.Time { return testNow }}) // the server's clock: due times are compared with it
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.Run(ctx, ctx)
		}()
		t.Cleanup(func() {
			cancel()
			<-done
		})
	}
	e.srv = handlers.New(handlers.Options{
		Log: log, Store: e.store, Metrics: e.metrics, Sources: testSources(t), AdminToken: o.adminToken,
		MaxBody: o.maxBody, DedupWindow: 24 * time.Hour, WaitPoll: 10 * time.Millisecond, WriteTimeouts: o.writes, Console: o.console,
		Now: func() time.Time { return testNow }, Recorder: o.recorder, KeepRequests: o.keepRequests, InspectBody: 1 << 10,
		NormalizeNumber: func(raw string) (string, error) {
			n, _, err := mapping.NormalizePhone(raw, "", mapping.PhoneOptions{DefaultRegion: "UY"})
			return n, err
		},
	})
	return e
}

// response is a recorded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON; body %s", ct, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %s", r.Status, r.Body)
	}
	return m
}

func (r *response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// do serves req; it comes from 192.0.2.1 (not loopback) unless changed.
func (e *env) do(req *http.Request) *response {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// newReq builds a request; hdr holds header name/value pairs.
func newReq(method, target string, body []byte, hdr ...string) *http.Request {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return req
}

func postReq(target string, body []byte, hdr ...string) *http.Request {
	return newReq(http.MethodPost, target, body, hdr...)
}

// loopback makes req come from 127.0.0.1.
func loopback(req *http.Request) *http.Request {
	req.RemoteAddr = "127.0.0.1:1234"
	return req
}

// admin sends an admin request from loopback.
func (e *env) admin(method, target string) *response {
	e.t.Helper()
	return e.do(loopback(newReq(method, target, nil)))
}

// event returns GET /events/{id}.
func (e *env) event(id string) map[string]any {
	e.t.Helper()
	r := e.admin(http.MethodGet, "/events/"+id)
	if r.Status != http.StatusOK {
		e.t.Fatalf("GET /events/%s = %s", id, r)
	}
	return r.json(e.t)
}

// list returns the events in state.
func (e *env) list(state string) []map[string]any {
	e.t.Helper()
	r := e.admin(http.MethodGet, "/events?limit=1000&state="+state)
	if r.Status != http.StatusOK {
		e.t.Fatalf("GET /events?state=%s = %s", state, r)
	}
	var out struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Events
}

const waitLimit = 10 * time.Second

// eventually polls cond until it holds or waitLimit passes.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitState waits until the event is in state and returns its record.
func (e *env) waitState(id, state string) map[string]any {
	e.t.Helper()
	var rec map[string]any
	e.eventually("event "+id+" to be "+state, func() bool {
		rec = e.event(id)
		return rec["state"] == state
	})
	return rec
}

// settle sends a marker event through the queue and waits until it is
// placed: with one worker serving the queue in order, everything queued
// before it has been dialed by then.
func (e *env) settle() {
	e.t.Helper()
	e.seq++
	body := fmt.Sprintf(`{"event_id":"settle-%d-%d","destination":"%s","owner":"ana@example.com"}`, time.Now().UnixNano(), e.seq, sentinelDest)
	r := e.do(postReq("/webhooks/generic", []byte(body)))
	if r.Status != http.StatusAccepted {
		e.t.Fatalf("marker = %s", r)
	}
	e.waitState(r.json(e.t)["event_id"].(string), "placed")
}

// wantCalls settles the queue and checks the AgentCalls placed so far:
// one per wanted destination/agent pair, in any order.
func (e *env) wantCalls(want ...[2]string) {
	e.t.Helper()
	e.settle()
	got := e.fake.calls()
	if len(got) != len(want) {
		e.t.Fatalf("%d AgentCalls %v, want %d %v", len(got), got, len(want), want)
	}
	left := append([][2]string(nil), want...)
	for _, f := range got {
		found := false
		for i, w := range left {
			if f.Get("destination") == w[0] && f.Get("agent") == w[1] && f.Get("phone") == w[1] {
				left = append(left[:i], left[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			e.t.Errorf("unexpected AgentCall %v (want one of %v)", f, left)
		}
		if f.Get("tech") != "SIP" || f.Get("callerid") != "59829001234" || f.Get("context") != "from-internal" || f.Get("outqueue") != "Ventas->" {
			e.t.Errorf("AgentCall %v misses a default", f)
		}
	}
}

// noSecrets fails when text contains a credential or one of extra.
func noSecrets(t *testing.T, what string, text []byte, extra ...string) {
	t.Helper()
	for _, s := range append(append([]string(nil), secrets...), extra...) {
		if s != "" && bytes.Contains(text, []byte(s)) {
			t.Errorf("%s discloses %q: %s", what, s, text)
		}
	}
}

// logText renders every log entry with its fields.
func (e *env) logText() []byte {
	var b bytes.Buffer
	for _, en := range e.logs.All() {
		fmt.Fprintf(&b, "%s %s %v\n", en.Level, en.Message, en.ContextMap())
	}
	return b.Bytes()
}

// Signers: samples' (written apart from the adapters) with the sources'
// credentials.

func unixS(t time.Time) string  { return strconv.FormatInt(t.Unix(), 10) }
func unixMs(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// hubspot requests arrive at http://example.com (httptest's Host).
const hsURI = "http://example.com/webhooks/"

func hsV3(uri string, body []byte, ts string) string {
	return samples.HubSpotV3(samples.HubSpotSecret, http.MethodPost, uri, body, ts)
}

func hsV2(uri string, body []byte) string {
	return samples.HubSpotV2(samples.HubSpotSecret, http.MethodPost, uri, body)
}

func hsV1(body []byte) string { return samples.HubSpotV1(samples.HubSpotSecret, body) }

func hubspotV3Req(source string, body []byte, at time.Time) *http.Request {
	ts := unixMs(at)
	return postReq("/webhooks/"+source, body, "Content-Type", "application/json",
		"X-HubSpot-Signature-v3", hsV3(hsURI+source, body, ts), "X-HubSpot-Request-Timestamp", ts)
}

func closeSig(ts string, body []byte) string {
	return samples.CloseSignature(samples.CloseKey, ts, body)
}

func closeReq(body []byte, at time.Time) *http.Request {
	ts := unixS(at)
	return postReq("/webhooks/close", body, "Content-Type", "application/json", "close-sig-hash", closeSig(ts, body), "close-sig-timestamp", ts)
}

func stdSig(id, ts string, body []byte) string {
	return samples.StandardSignature(samples.StandardSecret, id, ts, body)
}

func stdReq(id string, body []byte, at time.Time) *http.Request {
	ts := unixS(at)
	return postReq("/webhooks/standard", body, "Content-Type", "application/json",
		"webhook-id", id, "webhook-timestamp", ts, "webhook-signature", stdSig(id, ts, body))
}

func pdReq(body []byte, user, pass string) *http.Request {
	return postReq("/webhooks/pipedrive", body, "Content-Type", "application/json",
		"Authorization", samples.BasicAuth(user, pass))
}

func sfReq(body []byte) *http.Request {
	return postReq("/webhooks/salesforce", body, "Content-Type", "text/xml; charset=UTF-8", "SOAPAction", `""`)
}

// sfOutbound is an outbound message from samples.SalesforceOrgID.
func sfOutbound(notes ...string) []byte {
	return samples.SalesforceBody(samples.SalesforceOrgID, notes...)
}

// sfNote is a Lead notification routed to agent 1001; an empty phone sends
// a nil Phone.
func sfNote(id, recordID, phone string) string { return samples.SalesforceLead(id, recordID, phone) }

// wantSOAP checks a SOAP answer: an Ack, or a Fault with faultCode.
func wantSOAP(t *testing.T, r *response, status int, faultCode string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Errorf("Content-Type %q, want text/xml", ct)
	}
	if faultCode == "" {
		if !bytes.Equal(r.Body, crm.SOAPAck()) {
			t.Errorf("answer is not the Ack: %s", r.Body)
		}
		return
	}
	if !bytes.Contains(r.Body, []byte("<soapenv:Fault>")) || !bytes.Contains(r.Body, []byte("<faultcode>"+faultCode+"</faultcode>")) {
		t.Errorf("answer is not a %s fault: %s", faultCode, r.Body)
	}
}

// wantError checks an error answer {"error":{"code":code,...}}.
func wantError(t *testing.T, r *response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.json(t)
	ed, _ := m["error"].(map[string]any)
	if ed == nil || ed["code"] != code || ed["message"] == "" {
		t.Fatalf("answer %s, want error code %q with a message", r.Body, code)
	}
	return ed
}

// wantStatus checks a JSON answer's HTTP status and "status".
func wantStatus(t *testing.T, r *response, status int, s string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.json(t)
	if m["status"] != s {
		t.Fatalf("answer %s, want status %q", r.Body, s)
	}
	return m
}

// stores runs f with the in-memory store and with real Redis.
func stores(t *testing.T, f func(t *testing.T, redis bool)) {
	t.Run("memory", func(t *testing.T) { f(t, false) })
	t.Run("redis", func(t *testing.T) { f(t, true) })
}
