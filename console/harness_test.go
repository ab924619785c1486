package console_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"dialhook/console"
	"dialhook/crm"
	"dialhook/intake"
	"dialhook/internal/samples"
	"dialhook/mapping"
	"dialhook/store"
	"dialhook/ucontact"
)

// testNow is the console's clock: Wednesday 2026-11-25 12:00 UTC.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const (
	adminToken = "console-admin-token-31337"
	ucToken    = "dWMtdG9rZW4tY29uc29sZQ=="
)

// secrets are every credential the test deployment is configured with:
// none may appear in any page.
var secrets = []string{adminToken, ucToken, samples.HubSpotSecret, samples.PipedrivePassword, samples.GenericToken,
	samples.DynamicsKey, samples.DynamicsHeaderKey, samples.DynamicsQueryKey, samples.StandardSecret}

// testStore is the real in-memory store (on the test clock), with a
// switch that makes every read fail as an unreachable store would.
type testStore struct {
	*store.Memory
	down  bool  // every read fails as unreachable
	ready error // Ready's answer when set (out of memory, say)
}

func (s *testStore) Ready(ctx context.Context) error {
	if s.ready != nil {
		return s.ready
	}
	return s.Memory.Ready(ctx)
}

func newTestStore() *testStore {
	return &testStore{Memory: store.NewMemory(store.MemoryOptions{Now: func() time.Time { return testNow }})}
}

var errDown = fmt.Errorf("%w: connection refused", store.ErrUnavailable)

// refuse records refusals as the webhook path's recorder does.
func (s *testStore) refuse(t *testing.T, rs ...store.Refusal) {
	t.Helper()
	if err := s.Record(context.Background(), store.Activity{At: testNow, Refusals: rs}); err != nil {
		t.Fatal(err)
	}
}

func (s *testStore) List(ctx context.Context, q store.ListQuery) (store.Page, error) {
	if s.down {
		return store.Page{}, errDown
	}
	return s.Memory.List(ctx, q)
}

func (s *testStore) Get(ctx context.Context, id string) (*store.Event, error) {
	if s.down {
		return nil, store.ErrUnavailable
	}
	return s.Memory.Get(ctx, id)
}

func (s *testStore) Search(ctx context.Context, q string, limit int) ([]*store.Event, error) {
	if s.down {
		return nil, errDown
	}
	return s.Memory.Search(ctx, q, limit)
}

func (s *testStore) Stats(ctx context.Context, now time.Time) (store.Stats, error) {
	if s.down {
		return store.Stats{}, store.ErrUnavailable
	}
	return s.Memory.Stats(ctx, now)
}

// fakeReplayer replays through the pipeline, as intake's Replay will.
type fakeReplayer struct {
	env   *env
	calls int
	err   error
}

func (f *fakeReplayer) Replay(ctx context.Context, ev *store.Event) (*store.Event, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.env.deliverAs(ev.Source, []byte(ev.Request.Body), ev.Request.Headers, ev.Request.Path, ev.ID), nil
}

// testSources are the test deployment's sources, as main builds them.
func testSources(t *testing.T) map[string]*intake.Source {
	t.Helper()
	defs := map[string]crm.Config{
		"hubspot":   {Kind: "hubspot", Secret: samples.HubSpotSecret},
		"crm":       {Kind: "generic", Secret: samples.GenericToken},
		"pipedrive": {Kind: "pipedrive", BasicAuth: &crm.BasicAuth{User: samples.PipedriveUser, Password: samples.PipedrivePassword}},
		"dynhdr": {Kind: "dynamics", AuthHeaders: map[string]string{"X-Api-Key": samples.DynamicsHeaderKey},
			AuthQuery: map[string]string{"tenant": samples.DynamicsQueryKey}},
	}
	out := map[string]*intake.Source{}
	for name, cfg := range defs {
		cfg.Name = name
		ad, err := crm.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mp, err := mapping.Compile(mapping.Spec{Source: name, Kind: ad.Kind(), Preset: ad.Preset(), Region: "UY",
			GlobalDefaults: ucontact.Params{CallerID: "59829001234", Context: "from-internal", OutQueue: "Ventas->", Tech: "SIP"},
			Agents:         mapping.Agents{Routes: samples.AgentRoutes(func(a string) mapping.Route { return mapping.Route{Agent: a, Phone: a} })},
		})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = &intake.Source{Name: name, Adapter: ad, Mapper: mp}
	}
	return out
}

// env is a console over a test store.
type env struct {
	t        *testing.T
	st       *testStore
	h        http.Handler
	sources  map[string]*intake.Source
	replayer *fakeReplayer
	now      time.Time
	seq      int
}

func newEnv(t *testing.T, token string) *env {
	t.Helper()
	e := &env{t: t, st: newTestStore(), sources: testSources(t), now: testNow}
	e.replayer = &fakeReplayer{env: e}
	var infos []console.SourceInfo
	for _, name := range []string{"crm", "dynhdr", "hubspot", "pipedrive"} {
		info := console.SourceInfo{Name: name, Kind: e.sources[name].Adapter.Kind(), Source: e.sources[name], Credentials: []string{"secret"}}
		infos = append(infos, info)
	}
	infos[2].PublicBaseURL = "https://abc.ngrok-free.app"
	infos[0].When, infos[0].Cooldown, infos[0].CallWindow = `priority != "low"`, 10*time.Minute, "Mon–Fri 09:00–18:00 UTC"
	e.h = console.New(console.Options{
		Store: e.st, Sources: infos, Replayer: e.replayer, AdminToken: token,
		Dialer: func() console.DialerStatus { return console.DialerStatus{LastError: "401 with token " + ucToken} },
		Redact: secrets, Version: "test-1.2.3", Started: testNow.Add(-90 * time.Minute),
		Now: func() time.Time { return e.now }, Log: zaptest.NewLogger(t),
		NormalizeNumber: func(raw string) (string, error) {
			n, _, err := mapping.NormalizePhone(raw, "", mapping.PhoneOptions{DefaultRegion: "UY"})
			return n, err
		},
	})
	return e
}

// deliver records a webhook of source as the webhook path would, request
// and all; hdr holds its headers (credentials unmasked on purpose: the
// console must mask them again).
func (e *env) deliver(source string, body []byte, hdr map[string]string, path string) *store.Event {
	return e.deliverAs(source, body, hdr, path, "")
}

// deliverAs is deliver; a replay of event replayOf when that is set (a
// new event: its own dedup claim).
func (e *env) deliverAs(source string, body []byte, hdr map[string]string, path, replayOf string) *store.Event {
	e.t.Helper()
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	u, _ := url.ParseRequestURI(path)
	e.now = e.now.Add(time.Second)
	req := &crm.Request{Method: http.MethodPost, URL: u, Header: h, Body: body, Now: e.now}
	res, err := intake.NewPipeline(nil, 24*time.Hour, 0).Explain(context.Background(), e.sources[source], req)
	if err != nil {
		e.t.Fatalf("deliver to %s: %v", source, err)
	}
	sub := res.Plans[0].Submission
	if replayOf != "" {
		e.seq++
		sub.DedupKey += ":replay:" + strconv.Itoa(e.seq)
		sub.Event.ReplayOf = replayOf
	}
	sub.Event.Request = &store.Request{Method: http.MethodPost, Path: path, Headers: hdr, Body: string(body), Size: len(body),
		RemoteAddr: "203.0.113.7", Verified: "shared token"}
	acc, err := e.st.Accept(context.Background(), []store.Submission{sub})
	if err != nil {
		e.t.Fatal(err)
	}
	return acc[0].Event
}

// lead delivers a generic lead to source crm.
func (e *env) lead(id, dest string) *store.Event {
	body := fmt.Appendf(nil, `{"event_id":%q,"destination":%q,"owner":"ana@example.com","note":"token inside: %s"}`, id, dest, samples.GenericToken)
	return e.deliver("crm", body, map[string]string{"Content-Type": "application/json", "X-Dialhook-Token": samples.GenericToken,
		"User-Agent": "crm/1.0"}, "/webhooks/crm?code="+samples.DynamicsKey+"&x=1")
}

// finish dials the oldest queued event and records out for it.
func (e *env) finish(out store.Outcome) *store.Event {
	e.t.Helper()
	ctx := context.Background()
	ds, err := e.st.Next(ctx, "test", 0, 1, 0)
	if err != nil || len(ds) != 1 {
		e.t.Fatalf("next: %v %v", ds, err)
	}
	ev, res, err := e.st.Begin(ctx, ds[0], time.Minute, e.now)
	if err != nil || res != store.Dial {
		e.t.Fatalf("begin: %v %v", res, err)
	}
	fin, err := e.st.Finish(ctx, ds[0], ev, out, e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	return fin
}

// browser is a client of the console that keeps its cookies and the CSRF
// token of the last page.
type browser struct {
	e       *env
	remote  string
	header  http.Header
	cookies map[string]*http.Cookie
	csrf    string
}

func (e *env) browser() *browser {
	return &browser{e: e, remote: "127.0.0.1:40000", header: http.Header{}, cookies: map[string]*http.Cookie{}}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (p *page) String() string { return strconv.Itoa(p.Status) + " " + p.Body }

func (b *browser) do(req *http.Request) *page {
	req.RemoteAddr = b.remote
	for k, v := range b.header {
		req.Header[k] = v
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.e.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	body, _ := io.ReadAll(res.Body)
	p := &page{Status: res.StatusCode, Header: res.Header, Body: string(body)}
	if m := csrfInput.FindStringSubmatch(p.Body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) get(target string) *page {
	return b.do(httptest.NewRequest(http.MethodGet, target, nil))
}

// post sends a form; with the CSRF token of the last page unless the form
// sets its own.
func (b *browser) post(target string, form url.Values) *page {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn signs b in with the admin token.
func (b *browser) signIn(t *testing.T) {
	t.Helper()
	b.get("/ui/signin")
	if p := b.post("/ui/signin", url.Values{"token": {adminToken}, "next": {"/ui/"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %s", p)
	}
}

func wantStatus(t *testing.T, p *page, status int) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.Status, status, p.Body)
	}
}

func wantText(t *testing.T, p *page, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("page lacks %q; body:\n%s", s, p.Body)
		}
	}
}

func wantNoText(t *testing.T, p *page, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(p.Body, s) {
			t.Errorf("page shows %q", s)
		}
	}
}

var errNotYet = errors.New("replay: not yet")
