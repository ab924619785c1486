package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"dialhook/internal/samples"
	"dialhook/store"
)

var rowLink = regexp.MustCompile(`<a href="/ui/events/([^"]+)" aria-label="Event`)

// rowIDs lists the event ids of an events page's rows, in order.
func rowIDs(p *page) []string {
	var ids []string
	for _, m := range rowLink.FindAllStringSubmatch(p.Body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func hubspotContact(e *env) *store.Event {
	return e.deliver("hubspot", samples.Body(samples.HubSpotWorkflowContact), map[string]string{
		"Content-Type": "application/json", "X-HubSpot-Signature-v3": "c2lnbmF0dXJlLXZhbHVlLWhlcmU=",
		"X-HubSpot-Request-Timestamp": "1795000000000"}, "/webhooks/hubspot")
}

func TestEventsPage(t *testing.T) {
	e := newEnv(t, "")
	first := e.lead("ev-1", "099 123 456")
	placed := e.finish(store.Outcome{State: store.Placed, CallGUID: "guid-placed-0001"})
	hs := hubspotContact(e)
	b := e.browser()
	p := b.get("/ui/")
	wantStatus(t, p, http.StatusOK)
	if ids := rowIDs(p); len(ids) != 2 || ids[0] != hs.ID || ids[1] != first.ID {
		t.Fatalf("rows %v, want newest first: %s, %s", ids, hs.ID, first.ID)
	}
	wantText(t, p,
		`<td data-label="Source">hubspot</td>`, `<td data-label="CRM record">contact `+hs.RecordID+`</td>`,
		`<td data-label="Destination" class="mono">59899123456</td>`, `<td data-label="Agent">1007</td>`,
		`<span class="badge st-ok">placed</span>`, `guid-placed-0001`, `<span class="badge st-wait">queued</span>`,
		// counts across the top, each a filter
		`href="/ui/?state=placed" class="count st-ok">placed <b>1</b>`, `all <b>2</b>`,
		`data-live="/ui/live"`, `<label for="f-q">Search</label>`, `<label for="f-state">State</label>`)
	if placed.ID != first.ID {
		t.Fatal("finished another event")
	}

	cases := []struct {
		query string
		want  []string
	}{
		{"state=placed", []string{first.ID}},
		{"state=queued", []string{hs.ID}},
		{"state=all", []string{hs.ID, first.ID}},
		{"state=failed", nil},
		{"source=hubspot", []string{hs.ID}},
		{"source=crm&state=placed", []string{first.ID}},
		{"source=crm&state=queued", nil},
	}
	for _, c := range cases {
		p := b.get("/ui/?" + c.query)
		wantStatus(t, p, http.StatusOK)
		if got := rowIDs(p); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: rows %v, want %v", c.query, got, c.want)
		}
	}
	p = b.get("/ui/?state=placed&source=crm")
	wantText(t, p, `<option value="placed" selected>`, `<option value="crm" selected>`, `aria-current="true">placed`)
	wantStatus(t, b.get("/ui/?state=nope"), http.StatusBadRequest)
}

// One search box finds an event by each of its keys.
func TestSearch(t *testing.T) {
	e := newEnv(t, "")
	target := e.lead("find-me-42", "099 765 432")
	e.finish(store.Outcome{State: store.Placed, CallGUID: "7b1c2d3e-aaaa-bbbb-cccc-0123456789ab"})
	other := hubspotContact(e)
	b := e.browser()
	for name, q := range map[string]string{
		"event id":                   target.ID,
		"dedup key":                  "find-me-42",
		"destination as dialed":      "59899765432",
		"destination with spaces, +": "+598 99 765 432",
		"call GUID":                  "7b1c2d3e-aaaa-bbbb-cccc-0123456789ab",
	} {
		p := b.get("/ui/?q=" + url.QueryEscape(q))
		wantStatus(t, p, http.StatusOK)
		if ids := rowIDs(p); len(ids) != 1 || ids[0] != target.ID {
			t.Errorf("search by %s (%q): rows %v, want %s", name, q, ids, target.ID)
		}
		wantText(t, p, "Clear the search")
	}
	p := b.get("/ui/?q=" + other.RecordID)
	if ids := rowIDs(p); len(ids) != 1 || ids[0] != other.ID {
		t.Errorf("search by CRM record id: rows %v, want %s", ids, other.ID)
	}
	// The filters apply to the matches.
	if ids := rowIDs(b.get("/ui/?state=queued&q=find-me-42")); len(ids) != 0 {
		t.Errorf("search within state queued: %v, want none", ids)
	}
	if ids := rowIDs(b.get("/ui/?q=nothing-like-this")); len(ids) != 0 {
		t.Errorf("search for nothing: %v", ids)
	}
}

// Pages follow the store's cursors, newest first, each event once.
func TestPagination(t *testing.T) {
	e := newEnv(t, "")
	var want []string
	for i := range 120 {
		ev := e.lead(fmt.Sprintf("page-%03d", i), "099 123 456")
		want = append([]string{ev.ID}, want...)
	}
	b := e.browser()
	var got []string
	target, pages := "/ui/", 0
	for target != "" {
		p := b.get(target)
		wantStatus(t, p, http.StatusOK)
		got = append(got, rowIDs(p)...)
		pages++
		if pages > 1 {
			wantText(t, p, `href="/ui/">← Newest</a>`)
			wantNoText(t, p, "data-live=")
		}
		m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(p.Body)
		target = ""
		if m != nil {
			target = html.UnescapeString(m[1])
		}
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%d pages, %d events; want 3 pages, the 120 events newest first", pages, len(got))
	}
	// Filters travel with the cursor.
	p := b.get("/ui/?source=crm&state=queued")
	if !regexp.MustCompile(`href="/ui/\?cursor=[^"&]+&amp;source=crm&amp;state=queued" rel="next"`).MatchString(p.Body) {
		t.Errorf("the next page's link loses the filters:\n%s", p.Body)
	}
	wantStatus(t, b.get("/ui/?cursor=bogus"), http.StatusBadRequest)
}

// The live endpoint answers the first page's rows and counts as they are
// now: a new event shows up on the next poll.
func TestLiveUpdates(t *testing.T) {
	e := newEnv(t, "")
	b := e.browser()
	live := func(query string) map[string]string {
		p := b.get("/ui/live" + query)
		wantStatus(t, p, http.StatusOK)
		var m map[string]string
		if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := live("")
	if !strings.Contains(before["rows"], "No events here yet") {
		t.Errorf("rows before any event: %s", before["rows"])
	}
	ev := e.lead("live-1", "099 123 456")
	after := live("")
	if !strings.Contains(after["rows"], ev.ID) || !strings.Contains(after["counts"], "queued <b>1</b>") {
		t.Errorf("the live answer lacks the new event: %v", after)
	}
	if got := live("?state=placed"); strings.Contains(got["rows"], ev.ID) {
		t.Error("the live answer ignores the state filter")
	}
	e.finish(store.Outcome{State: store.Placed, CallGUID: "guid-live-1"})
	if got := live("?state=placed"); !strings.Contains(got["rows"], "guid-live-1") {
		t.Error("the live answer does not show the state change")
	}
	wantStatus(t, b.get("/ui/live?state=nope"), http.StatusBadRequest)
}

func TestEventPage(t *testing.T) {
	e := newEnv(t, "")
	ev := e.lead("page-1", "+598 99 123 456")
	e.finish(store.Outcome{State: store.Failed, Error: "uContact answered 500", ErrorKind: "server_error"})
	e.now = e.now.Add(time.Minute)
	if _, err := e.st.Redial(t.Context(), ev.ID, store.Redial{At: e.now, Client: "console"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.get("/ui/events/" + ev.ID)
	wantStatus(t, p, http.StatusOK)
	wantText(t, p,
		// timeline
		`<strong>received</strong>`, `verified: shared token`, `<strong>redial requested</strong> <span class="detail">by console</span>`,
		`<strong>now</strong> <span class="badge st-wait">queued</span>`,
		// the request as received, masked again
		`<code>POST /webhooks/crm?code=••••••&amp;x=1</code>`, `<th scope="row">X-Dialhook-Token</th><td><span class="masked"`,
		`<th scope="row">User-Agent</th><td><code>crm/1.0</code>`, `(JSON, pretty-printed)`, "{\n  &#34;event_id&#34;: &#34;page-1&#34;,",
		// the mapping trail, next to what was recorded
		`As the current configuration maps it`, `<h4>Decisions</h4>`, `destination = &#34;&#43;598 99 123 456&#34; from path destination`,
		`Recorded (sent to AgentCall)`,
		// actions
		`Replay…</a>`, `<summary>Copy as curl</summary>`,
		`curl -sS -X POST &#39;http://example.com/webhooks/crm?code=&lt;CODE&gt;&amp;x=1&#39;`,
		`-H &#39;X-Dialhook-Token: &lt;DIALHOOK_TOKEN&gt;&#39;`, `--data-binary &#39;{&#34;event_id&#34;:&#34;page-1&#34;`)
	wantNoText(t, p, `Redial…</a>`) // it is queued again
	wantStatus(t, b.get("/ui/events/no-such-event"), http.StatusNotFound)

	e.st.down = true
	wantStatus(t, b.get("/ui/events/"+ev.ID), http.StatusServiceUnavailable)
	wantStatus(t, b.get("/ui/"), http.StatusServiceUnavailable)
}

// A duplicate delivery shows on the timeline, and an event whose request
// was not kept says so instead of a trail.
func TestEventPageDuplicatesAndNoRequest(t *testing.T) {
	e := newEnv(t, "")
	ev := e.lead("dup-1", "099 123 456")
	e.lead("dup-1", "099 123 456")
	e.lead("dup-1", "099 123 456")
	b := e.browser()
	p := b.get("/ui/events/" + ev.ID)
	wantText(t, p, `<strong>2 duplicate deliveries</strong>`)
	got, _ := e.st.Get(t.Context(), ev.ID)
	got.Request = nil
	bare := &store.Event{Source: "crm", State: store.Placed, ReceivedAt: testNow, UpdatedAt: testNow, DedupKey: "bare-1"}
	bare.ID = e.st.NewEventID("bare-1")
	if _, err := e.st.Accept(t.Context(), []store.Submission{{Event: bare, DedupKey: "crm:bare-1"}}); err != nil {
		t.Fatal(err)
	}
	p = b.get("/ui/events/" + bare.ID)
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, "was not kept", "cannot be mapped again", `<span class="disabled">Replay</span>`)
	wantNoText(t, p, "Copy as curl")
}

func TestRefusedPage(t *testing.T) {
	e := newEnv(t, "")
	long := strings.Repeat("x", 6000)
	e.st.refuse(t,
		store.Refusal{At: testNow, Source: "hubspot", Status: 401, Code: "bad_signature",
			Reason: "HubSpot v3 signature over https://abc.ngrok-free.app/webhooks/hubspot did not match",
			Request: store.Request{Method: "POST", Path: "/webhooks/hubspot", Size: len(long), Body: long,
				Headers: map[string]string{"X-HubSpot-Signature-v3": "c2lnbmF0dXJl", "Content-Type": "application/json"}}},
		store.Refusal{At: testNow.Add(-time.Minute), Source: "crm", Status: 400, Code: "malformed", Reason: "the body is not JSON",
			Request: store.Request{Method: "POST", Path: "/webhooks/crm", Body: "{nope", Size: 5}},
	)
	b := e.browser()
	p := b.get("/ui/refused")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, "<strong>hubspot</strong>", `<span class="badge st-bad">401</span> <code>bad_signature</code>`,
		"did not match", `<th scope="row">X-HubSpot-Signature-v3</th><td><span class="masked"`,
		"the first 4096 kept", "<strong>crm</strong>", "{nope", `<label for="r-source">Source</label>`)
	if strings.Count(p.Body, "x") > 4096+200 {
		t.Error("the refused page shows more than the first 4 KiB of a body")
	}
	p = b.get("/ui/refused?source=crm")
	wantText(t, p, "<strong>crm</strong>", `<option value="crm" selected>`)
	wantNoText(t, p, "<strong>hubspot</strong>")
	wantText(t, b.get("/ui/refused?source=pipedrive"), "No refused deliveries for pipedrive")
}

func TestSourcesPage(t *testing.T) {
	e := newEnv(t, "")
	rs := make([]store.Refusal, 3)
	for i := range rs {
		rs[i] = store.Refusal{At: testNow.Add(-time.Minute), Source: "crm", Status: 400, Code: "malformed"}
	}
	if err := e.st.Record(context.Background(), store.Activity{At: testNow.Add(-time.Hour), Accepted: map[string]int{"crm": 12}}); err != nil {
		t.Fatal(err)
	}
	e.st.refuse(t, rs...)
	b := e.browser()
	p := b.get("/ui/sources")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, `<h2 id="src-crm">crm <small>generic</small></h2>`, `<code class="url">http://example.com/webhooks/crm</code>`,
		"set: secret", `<code>priority != &#34;low&#34;</code>`, "Mon–Fri 09:00–18:00 UTC", "<dd>10m</dd>",
		"12 accepted, 3 refused", "2026-11-25 11:00:00 UTC", `href="/ui/refused?source=crm"`,
		`href="/ui/sources/crm/playground"`, `<dd>always open</dd>`)
	// A source's public_base_url makes its URL.
	wantText(t, p, `<code class="url">https://abc.ngrok-free.app/webhooks/hubspot</code>`)
	// Behind a tunnel that ends TLS, the address is https.
	e = newEnv(t, adminToken)
	b = e.browser()
	b.signIn(t)
	b.remote, b.header = "192.0.2.1:1", http.Header{"X-Forwarded-Proto": {"https"}}
	wantText(t, b.get("/ui/sources"), `<code class="url">https://example.com/webhooks/crm</code>`)
}

func TestPlayground(t *testing.T) {
	e := newEnv(t, "")
	b := e.browser()
	p := b.get("/ui/sources/crm/playground")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, `<label for="p-body">Body</label>`, `<label for="p-type">Content type</label>`, "Nothing is recorded")
	body := `{"event_id":"play-1","destination":"099 111 222","owner":"ana@example.com"}`
	p = b.post("/ui/sources/crm/playground", url.Values{"body": {body}, "content_type": {""}})
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, "As the current configuration maps it", `<th scope="row">destination</th><td><code>59899111222</code>`,
		`<th scope="row">agent</th><td><code>1007</code>`, "<h4>Decisions</h4>", "Normalized event (generic)",
		"nothing was recorded and no call was placed", "&#34;play-1&#34;")
	wantText(t, p, `<span class="badge st-wait">queued</span>`)
	if page, _ := e.st.List(t.Context(), store.ListQuery{Limit: 10}); len(page.Events) != 0 {
		t.Fatalf("the playground recorded %d events", len(page.Events))
	}
	// A body that does not map says why.
	p = b.post("/ui/sources/crm/playground", url.Values{"body": {`{"event_id":"play-2"}`}})
	wantText(t, p, "<h4>Mapping errors</h4>", `<code>destination</code>`, `<span class="badge st-bad">rejected</span>`)
	// A body that does not parse says so.
	p = b.post("/ui/sources/crm/playground", url.Values{"body": {`{not json`}, "content_type": {"application/json"}})
	wantText(t, p, `<p class="error" role="alert">`)
	// A recent event's request can be loaded.
	ev := e.lead("load-me", "099 333 444")
	p = b.get("/ui/sources/crm/playground")
	wantText(t, p, `/ui/sources/crm/playground?from=`+ev.ID)
	p = b.get("/ui/sources/crm/playground?from=" + ev.ID)
	wantText(t, p, "&#34;load-me&#34;", `<option value="application/json" selected>`)
	wantStatus(t, b.get("/ui/sources/nope/playground"), http.StatusNotFound)
}

func TestHealthPage(t *testing.T) {
	e := newEnv(t, "")
	e.lead("h-1", "099 123 456")
	b := e.browser()
	p := b.get("/ui/health")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, "<dt>Kind</dt><dd>memory</dd>", `<span class="badge st-ok">yes</span>`, "<dt>Queue depth</dt><dd>1</dd>",
		"<dt>Scheduled</dt><dd>0</dd>", "<dt>Dialing</dt><dd>0</dd>", "test-1.2.3", "<dt>Uptime</dt><dd>1h30m</dd>",
		"401 with token ••••••", "Replicas seen")
}

// A store that answers but is out of memory is not "all well": the health
// page says what /readyz says (store_full, with the reason), next to
// Reachable yes.
func TestHealthPageStoreFull(t *testing.T) {
	e := newEnv(t, "")
	b := e.browser()
	wantText(t, b.get("/ui/health"), `<dt>Ready</dt><dd><span class="badge st-ok">yes</span></dd>`)
	e.st.ready = fmt.Errorf("%w: Redis 10.0.0.5:6379 is out of memory (used_memory 104857 >= maxmemory 102400, policy noeviction)", store.ErrFull)
	p := b.get("/ui/health")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, `<dt>Reachable</dt><dd><span class="badge st-ok">yes</span>`, `<span class="badge st-bad">no: store_full</span>`,
		"used_memory 104857 &gt;= maxmemory 102400")
	e.st.ready = errDown
	wantText(t, b.get("/ui/health"), `<span class="badge st-bad">no: store_unavailable</span>`, "connection refused")
}

func TestNotFoundPage(t *testing.T) {
	e := newEnv(t, "")
	p := e.browser().get("/ui/nothing/here")
	wantStatus(t, p, http.StatusNotFound)
	wantText(t, p, "no such page")
}

// What uContact said of the call shows on the event's timeline, and the
// new final state is coloured like a success.
func TestEventPageShowsTheCallsOutcome(t *testing.T) {
	e := newEnv(t, "")
	e.lead("call-outcome", "099 123 456")
	ev := e.finish(store.Outcome{State: store.Placed, CallGUID: "7d1e5a3c-0c4b-4f7e-9a51-2b8c6d0e4f11"})
	ctx := context.Background()
	for _, ce := range []store.CallEvent{
		{Kind: store.CallDisposed, GUID: ev.CallGUID, At: testNow, Fields: map[string]any{"l1": "Venta", "comment": "call back on Monday"}},
		{Kind: store.CallFinished, GUID: ev.CallGUID, At: testNow.Add(time.Minute), Fields: map[string]any{"campaign": "Ventas->"}},
	} {
		if _, _, err := e.st.RecordCallEvent(ctx, ce); err != nil {
			t.Fatal(err)
		}
	}
	p := e.browser().get("/ui/events/" + ev.ID)
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, "uContact: interaction finished", "campaign: Ventas-&gt;", "uContact: disposition", "comment: call back on Monday, l1: Venta",
		`<span class="badge st-ok">completed</span>`)
}

// The do-not-call list is shown and edited in the console (with CSRF).
func TestDoNotCallPage(t *testing.T) {
	e := newEnv(t, adminToken)
	b := e.browser()
	b.signIn(t)
	p := b.get("/ui/dnc")
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, `<label for="dnc-number">Number</label>`, "No numbers")
	follow := func(p *page) *page {
		t.Helper()
		if p.Status != http.StatusSeeOther {
			t.Fatalf("POST = %s", p)
		}
		return b.get(p.Header.Get("Location"))
	}
	p = follow(b.post("/ui/dnc", url.Values{"number": {"099 123 456"}, "action": {"add"}}))
	wantText(t, p, "59899123456 is on the do-not-call list.", "<code>59899123456</code>", `data-label="By">console`)
	p = b.post("/ui/dnc", url.Values{"number": {"not a number"}, "action": {"add"}})
	wantStatus(t, p, http.StatusBadRequest)
	p = follow(b.post("/ui/dnc", url.Values{"number": {"+598 99 123 456"}, "action": {"remove"}}))
	wantText(t, p, "59899123456 was removed from the list.")
	if _, err := e.st.DNCGet(context.Background(), "59899123456"); err == nil {
		t.Error("still listed after the remove")
	}
	if r := b.post("/ui/dnc", url.Values{"number": {"099 123 456"}, "action": {"add"}, "csrf": {"forged"}}); r.Status != http.StatusForbidden {
		t.Errorf("a POST with a forged CSRF token = %d", r.Status)
	}
}
