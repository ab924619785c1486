package intake_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"dialhook/crm"
	"dialhook/intake"
	"dialhook/mapping"
	"dialhook/store"
	"dialhook/ucontact"
)

func genericSource(t *testing.T, secret string) *intake.Source {
	t.Helper()
	ad, err := crm.New(crm.Config{Name: "generic", Kind: "generic", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	mp, err := mapping.Compile(mapping.Spec{Source: "generic", Kind: "generic", Preset: ad.Preset(), Region: "UY",
		Defaults: ucontact.Params{CallerID: "59829001234", Agent: "1001", Phone: "1001", Context: "from-internal", OutQueue: "Ventas->"}})
	if err != nil {
		t.Fatal(err)
	}
	return &intake.Source{Name: "generic", Adapter: ad, Mapper: mp, Secrets: []string{secret}}
}

func request(t *testing.T, rawURL, body string, headers map[string]string) *crm.Request {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	return &crm.Request{Method: "POST", URL: u, Header: h, Body: []byte(body), Now: time.Now()}
}

// Every credential is masked, by name or by value, wherever it is.
func TestCaptureMasksSecrets(t *testing.T) {
	const secret = "s3cr3t-token-value"
	src := genericSource(t, secret)
	req := request(t, "/webhooks/generic?token="+secret+"&code=abc&lead=7&other="+secret, `{"note":"`+secret+`","phone":"099"}`, map[string]string{
		"Authorization":          "Bearer xyz",
		"X-Hubspot-Signature-V3": "c2lnbmF0dXJl",
		"X-Dialhook-Token":       secret,
		"Cookie":                 "session=1",
		"X-Custom":               "prefix " + secret,
		"Content-Type":           "application/json",
	})
	got := intake.Capture(src, req, 1<<10)
	all := got.Path + got.Body
	for k, v := range got.Headers {
		all += k + ": " + v + "\n"
	}
	for _, leak := range []string{secret, "xyz", "c2lnbmF0dXJl", "session=1", "code=abc"} {
		if strings.Contains(all, leak) {
			t.Errorf("captured request holds %q:\n%s", leak, all)
		}
	}
	if got.Headers["Content-Type"] != "application/json" || !strings.Contains(got.Path, "lead=7") || !strings.Contains(got.Body, `"phone":"099"`) {
		t.Errorf("capture lost what is not secret: %+v", got)
	}
	if got.Size != len(req.Body) || got.Truncated {
		t.Errorf("size %d truncated %v", got.Size, got.Truncated)
	}
	if cut := intake.Capture(src, req, 5); !cut.Truncated || len(cut.Body) != 5 || cut.Size != len(req.Body) {
		t.Errorf("cut at 5 = %+v", cut)
	}
}

type recordingStore struct {
	acts []store.Activity
	err  error
}

func (r *recordingStore) Record(_ context.Context, a store.Activity) error {
	r.acts = append(r.acts, a)
	return r.err
}

// The recorder writes refusals and counts in one batch; a full buffer
// drops and counts, and so does a store error.
func TestRecorderBatchesAndDrops(t *testing.T) {
	st := &recordingStore{}
	dropped := 0
	rec := intake.NewRecorder(st, func() { dropped++ })
	src := genericSource(t, "tok-123456")
	req := request(t, "/webhooks/generic?token=tok-123456", "{}", nil)
	for range 1005 {
		rec.Refused(src, "generic", req, 401, "unauthorized", "bad token")
	}
	rec.Refused(nil, "nosuch", req, 404, "unknown_source", "no such source")
	rec.Accepted("generic", 3)
	if dropped != 6 {
		t.Errorf("dropped %d, want 6 (the buffer holds 1000)", dropped)
	}
	rec.Flush(context.Background())
	if len(st.acts) != 1 || len(st.acts[0].Refusals) != 1000 || st.acts[0].Accepted["generic"] != 3 {
		t.Fatalf("flushed %+v", st.acts)
	}
	if strings.Contains(st.acts[0].Refusals[0].Request.Path, "tok-123456") {
		t.Errorf("refusal keeps the token: %s", st.acts[0].Refusals[0].Request.Path)
	}
	st.err = errors.New("down")
	rec.Refused(nil, "nosuch", req, 404, "unknown_source", "no such source")
	rec.Flush(context.Background())
	if dropped != 7 || st.acts[1].Refusals[0].Source != intake.UnknownSource {
		t.Errorf("after a store error: dropped %d, refusal %+v", dropped, st.acts[1].Refusals)
	}
}

// A replay runs the stored request through the current mapping as a new
// event, with no dedup claim, naming the original.
func TestReplay(t *testing.T) {
	src := genericSource(t, "tok-123456")
	st := store.NewMemory(store.MemoryOptions{Retention: time.Hour})
	p := intake.NewPipeline(st, time.Hour, time.Second)
	p.KeepRequests(1 << 10)
	body := `{"event_id":"lead-9","destination":"099 123 456"}`
	res, err := p.Receive(context.Background(), src, request(t, "/webhooks/generic?token=tok-123456", body, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := st.Get(context.Background(), res.Answers[0].EventID)
	if err != nil || orig.Request == nil || strings.Contains(orig.Request.Path, "tok-123456") {
		t.Fatalf("recorded %+v %v", orig, err)
	}
	for range 2 {
		ev, err := p.Replay(context.Background(), src, orig, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID == orig.ID || ev.ReplayOf != orig.ID || ev.State != store.Queued || ev.Params.Destination == "" {
			t.Errorf("replay = %+v", ev)
		}
	}
	orig.Request.Truncated = true
	if _, err := p.Replay(context.Background(), src, orig, time.Now()); !errors.Is(err, intake.ErrTruncated) {
		t.Errorf("truncated replay: %v", err)
	}
	orig.Request = nil
	if _, err := p.Replay(context.Background(), src, orig, time.Now()); !errors.Is(err, intake.ErrNoRequest) {
		t.Errorf("replay without request: %v", err)
	}
}
