package console_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"dialhook/intake"
	"dialhook/store"
)

func TestRedial(t *testing.T) {
	e := newEnv(t, adminToken)
	failed := e.lead("r-failed", "099 123 456")
	e.finish(store.Outcome{State: store.Failed, Error: "uContact answered 500", ErrorKind: "server_error"})
	queued := e.lead("r-queued", "099 123 457")
	rejected := e.lead("r-rejected", "") // no destination: its mapping fails
	if rejected.State != store.Rejected || rejected.ErrorKind != store.MappingFailed {
		t.Fatalf("r-rejected is %s/%s, want a mapping rejection", rejected.State, rejected.ErrorKind)
	}
	b := e.browser()
	b.signIn(t)

	p := b.get("/ui/events/" + failed.ID)
	wantText(t, p, `href="/ui/events/`+failed.ID+`/redial">Redial…</a>`)
	p = b.get("/ui/events/" + failed.ID + "/redial")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, `<input type="checkbox" id="confirm" name="confirm" value="yes" required>`, `<label for="confirm">I confirm`,
		"destination 59899123456")

	// Without the confirmation, nothing happens.
	p = b.post("/ui/events/"+failed.ID+"/redial", nil)
	wantStatus(t, p, http.StatusBadRequest)
	wantText(t, p, "Tick “I confirm”")
	if got, _ := e.st.Get(t.Context(), failed.ID); got.State != store.Failed {
		t.Fatalf("unconfirmed redial: the event is %s", got.State)
	}

	p = b.post("/ui/events/"+failed.ID+"/redial", url.Values{"confirm": {"yes"}})
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/ui/events/"+failed.ID+"?done=redial" {
		t.Errorf("Location %q", loc)
	}
	got, _ := e.st.Get(t.Context(), failed.ID)
	if got.State != store.Queued || len(got.Redials) != 1 || got.Redials[0].Client != "console" {
		t.Fatalf("after redial: %s, redials %+v; want queued, one by console", got.State, got.Redials)
	}
	wantText(t, b.get("/ui/events/"+failed.ID+"?done=redial"), "Redial requested")

	// Where the API refuses, so does the console, and says why.
	cases := []struct {
		name string
		ev   *store.Event
		why  string
	}{
		{"queued", queued, "Only an event in state unknown, failed or rejected (or placed by a dry run) can be redialed; this one is queued."},
		{"redialed already", failed, "this one is queued"},
		{"mapping rejection", rejected, "Its mapping failed, so it has no complete call parameters"},
	}
	for _, c := range cases {
		p := b.post("/ui/events/"+c.ev.ID+"/redial", url.Values{"confirm": {"yes"}})
		wantStatus(t, p, http.StatusConflict)
		wantText(t, p, c.why)
		wantNoText(t, p, `name="confirm"`)
		// The event page says it without offering the button.
		p = b.get("/ui/events/" + c.ev.ID)
		wantText(t, p, `<span class="disabled">Redial</span>`, c.why)
	}
	wantStatus(t, b.post("/ui/events/nope/redial", url.Values{"confirm": {"yes"}}), http.StatusNotFound)
}

func TestReplay(t *testing.T) {
	e := newEnv(t, adminToken)
	ev := e.lead("rp-1", "099 123 456")
	b := e.browser()
	b.signIn(t)
	p := b.get("/ui/events/" + ev.ID + "/replay")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, "as a new event with a new id", `name="confirm"`)

	p = b.post("/ui/events/"+ev.ID+"/replay", nil)
	wantStatus(t, p, http.StatusBadRequest)
	if e.replayer.calls != 0 {
		t.Fatal("replayed without the confirmation")
	}

	p = b.post("/ui/events/"+ev.ID+"/replay", url.Values{"confirm": {"yes"}})
	wantStatus(t, p, http.StatusSeeOther)
	if e.replayer.calls != 1 {
		t.Fatalf("%d replays, want 1", e.replayer.calls)
	}
	loc := p.Header.Get("Location")
	newID := strings.TrimSuffix(strings.TrimPrefix(loc, "/ui/events/"), "?done=replay")
	if newID == ev.ID || newID == "" || !strings.HasSuffix(loc, "?done=replay") {
		t.Fatalf("Location %q: want the new event's page", loc)
	}
	p = b.get(loc)
	wantText(t, p, "Replayed: this is a new event", `<dt>Replay of</dt><dd><a href="/ui/events/`+ev.ID+`">`)

	// A failure is shown with the form, to try again.
	e.replayer.err = &intake.Error{Kind: intake.StoreUnavailable, Msg: "the event could not be recorded; retry later", Err: errors.New("dial tcp: refused")}
	p = b.post("/ui/events/"+ev.ID+"/replay", url.Values{"confirm": {"yes"}})
	wantStatus(t, p, http.StatusServiceUnavailable)
	wantText(t, p, "the event could not be recorded; retry later", `name="confirm"`)
	wantNoText(t, p, "dial tcp")
	e.replayer.err = errNotYet
	p = b.post("/ui/events/"+ev.ID+"/replay", url.Values{"confirm": {"yes"}})
	wantStatus(t, p, http.StatusInternalServerError)
	wantText(t, p, "replay: not yet")

	// Without a stored request there is nothing to replay.
	bare := &store.Event{ID: e.st.NewEventID("bare"), Source: "crm", State: store.Failed, ReceivedAt: testNow, DedupKey: "bare"}
	if _, err := e.st.Accept(t.Context(), []store.Submission{{Event: bare, DedupKey: "crm:bare"}}); err != nil {
		t.Fatal(err)
	}
	calls := e.replayer.calls
	p = b.post("/ui/events/"+bare.ID+"/replay", url.Values{"confirm": {"yes"}})
	wantStatus(t, p, http.StatusConflict)
	wantText(t, p, "was not kept")
	if e.replayer.calls != calls {
		t.Error("replayed an event without its request")
	}
}
