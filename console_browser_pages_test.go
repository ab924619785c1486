package main

// The checks of the console's browser tests (console_browser_test.go),
// one per subtest, in the order they run.

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"dialhook/internal/samples"
)

// A wrong token is refused with a message; the right one leads to the
// events page, and the token is never shown.
func (r *consoleRig) signIn(t *testing.T) {
	browse(t, r.tab, chromedp.Navigate(r.url("/")))
	waitFor(t, r.tab, `location.pathname == "/ui/signin"`, 5*time.Second, "GET / asks to sign in")
	browse(t, r.tab, chromedp.SendKeys(chromedp.ID("token"), "not-the-admin-token"))
	if status := submit(t, r.tab, "main form button[type=submit]"); status != http.StatusUnauthorized {
		t.Errorf("a wrong token answers %d, want 401", status)
	}
	if got := text(t, r.tab); !strings.Contains(got, "That is not the admin token") {
		t.Fatalf("a wrong token is refused without a message:\n%s", got)
	}
	if loc := location(r.tab); !strings.Contains(loc, "/ui/signin") {
		t.Fatalf("a wrong token leads to %s", loc)
	}
	browse(t, r.tab, chromedp.SendKeys(chromedp.ID("token"), r.token))
	if status := submit(t, r.tab, "main form button[type=submit]"); status != http.StatusOK {
		t.Errorf("the right token answers %d after its redirect", status)
	}
	waitFor(t, r.tab, `location.pathname == "/ui/" && document.querySelector("h1").textContent == "Events"`,
		5*time.Second, "the right token leads to the events page")
	if !eval[bool](t, r.tab, `!!document.querySelector("form.signout")`) {
		t.Error("signed in, the console offers no sign-out")
	}
	if strings.Contains(html(t, r.tab), r.token) {
		t.Error("the page shows the admin token")
	}
}

// A webhook sent while the events page is open shows up in it within
// 2 s, without a reload.
func (r *consoleRig) live(t *testing.T) {
	browse(t, r.tab, chromedp.Navigate(r.url("/ui/")))
	waitFor(t, r.tab, `document.querySelector("#live-status").textContent == "live"`, 5*time.Second, "the events page goes live")
	// A reload would drop this mark.
	eval[bool](t, r.tab, `window.dialhookMark = true`)
	r.webhook(t, "placed", "/webhooks/generic?token="+queryToken, readmeLead, http.StatusAccepted,
		"Authorization", "Bearer "+crmBearer)
	sent := time.Now()
	row := `document.querySelector('#rows a[href="` + eventHref(r.ids["placed"]) + `"]')`
	waitFor(t, r.tab, "!!"+row, 2*time.Second, "the new event's row")
	t.Logf("the row appeared %s after the webhook was answered", time.Since(sent).Round(time.Millisecond))
	if !eval[bool](t, r.tab, `window.dialhookMark === true`) {
		t.Fatal("the page was reloaded")
	}
	cells := eval[string](t, r.tab, row+`.closest("tr").innerText`)
	for _, want := range []string{"generic", destPlaced, "1001"} {
		if !strings.Contains(cells, want) {
			t.Errorf("the new row %q lacks %s", cells, want)
		}
	}
}

// Filtering by state shows the events in that state and no other.
func (r *consoleRig) filterByState(t *testing.T) {
	for _, c := range []struct {
		state   string
		in, out []string
	}{
		{"placed", []string{"placed", "hubspot"}, []string{"rejected", "failed", "unmapped"}},
		{"rejected", []string{"rejected", "unmapped"}, []string{"placed", "failed", "hubspot"}},
		{"failed", []string{"failed"}, []string{"placed", "rejected", "unmapped", "hubspot"}},
	} {
		browse(t, r.tab, chromedp.Navigate(r.url("/ui/")), chromedp.SetValue(chromedp.ID("f-state"), c.state))
		if status := submit(t, r.tab, "form.filters button[type=submit]"); status != http.StatusOK {
			t.Fatalf("filter %s: %d", c.state, status)
		}
		if loc := location(r.tab); !strings.Contains(loc, "state="+c.state) {
			t.Fatalf("filter %s leads to %s", c.state, loc)
		}
		r.wantRows(t, c.in, c.out)
		states := eval[[]string](t, r.tab, `[...document.querySelectorAll("#rows td[data-label=State] .badge")].map(b => b.textContent)`)
		if len(states) < len(c.in) || slices.ContainsFunc(states, func(s string) bool { return s != c.state }) {
			t.Errorf("filter %s shows the states %v", c.state, states)
		}
	}
}

// A destination typed as a person writes it ("+598 99 123 456") finds the
// event dialed at 59899123456.
func (r *consoleRig) search(t *testing.T) {
	const typed = "+598 99 123 456"
	browse(t, r.tab, chromedp.Navigate(r.url("/ui/")), chromedp.SendKeys(chromedp.ID("f-q"), typed))
	if status := submit(t, r.tab, "form.filters button[type=submit]"); status != http.StatusOK {
		t.Fatalf("search: %d", status)
	}
	r.wantRows(t, []string{"placed"}, []string{"rejected", "failed", "unmapped"})
	if note := eval[string](t, r.tab, `document.querySelector("main .note").innerText`); !strings.Contains(note, typed) {
		t.Errorf("the search's note %q does not echo %q", note, typed)
	}
	if got := eval[string](t, r.tab, `document.querySelector("#f-q").value`); got != typed {
		t.Errorf("the search box holds %q after the search", got)
	}
}

// An event's page shows the request as received with its credentials
// masked, and the mapping trail: each parameter and the decisions.
func (r *consoleRig) event(t *testing.T) {
	browse(t, r.tab, chromedp.Navigate(r.url(eventHref(r.ids["placed"]))))
	page := html(t, r.tab)
	for _, secret := range []string{crmBearer, queryToken} {
		if strings.Contains(page, secret) {
			t.Errorf("the event page shows the credential %q", secret)
		}
	}
	facts := eval[map[string]string](t, r.tab, `Object.fromEntries([...document.querySelectorAll("main > dl.facts dt")]
		.map(dt => [dt.textContent, dt.nextElementSibling.innerText]))`)
	if facts["Destination"] != destPlaced || facts["Duplicates"] != "1" || facts["Dedup key"] != "lead-1" {
		t.Errorf("the event's facts are %v, want destination %s, the redelivery counted, dedup key lead-1", facts, destPlaced)
	}
	const req = `section[aria-labelledby=h-request] `
	auth := eval[[]string](t, r.tab, `[...document.querySelectorAll("`+req+`table.kv tr")]
		.filter(tr => tr.querySelector("th").textContent == "Authorization")
		.map(tr => tr.querySelector("td").innerText + (tr.querySelector("td .masked") ? " (masked)" : ""))`)
	if !slices.Equal(auth, []string{"•••••• (masked)"}) {
		t.Errorf("the Authorization header is shown as %q, want it masked", auth)
	}
	if path := eval[string](t, r.tab, `document.querySelector("`+req+`dd code").innerText`); path != "POST /webhooks/generic?token=••••••" {
		t.Errorf("the request line is %q, want its token masked", path)
	}
	if body := eval[string](t, r.tab, `document.querySelector("`+req+`pre.body").innerText`); !strings.Contains(body, `"destination": "59899123456"`) {
		t.Errorf("the body is not shown pretty-printed:\n%s", body)
	}
	const trail = `section[aria-labelledby=h-trail] `
	dest := eval[[]string](t, r.tab, `[...document.querySelectorAll("`+trail+`table.compare tr")]
		.filter(tr => tr.querySelector("th").textContent == "destination").flatMap(tr => [...tr.querySelectorAll("td")].map(td => td.innerText))`)
	if !slices.Equal(dest, []string{destPlaced, destPlaced}) {
		t.Errorf("the trail's destination is %q, want it recorded and mapped as %s", dest, destPlaced)
	}
	decisions := eval[[]string](t, r.tab, `[...document.querySelectorAll("`+trail+`ol.decisions li")].map(li => li.innerText)`)
	if !slices.Contains(decisions, `destination = "59899123456" from path destination`) {
		t.Errorf("the trail's decisions lack where the destination came from: %q", decisions)
	}
}

// badge is the state badge at the top of an event's page.
const badge = `document.querySelector(".head .badge").textContent`

// A redial needs its confirmation (in the browser and in dialhook); once
// confirmed the event is dialed again, once.
func (r *consoleRig) redial(t *testing.T) {
	id := r.ids["rejected"]
	browse(t, r.tab, chromedp.Navigate(r.url(eventHref(id))))
	if got := eval[string](t, r.tab, badge); got != "rejected" {
		t.Fatalf("the event is %s, want rejected", got)
	}
	if status := submit(t, r.tab, `a[href="`+eventHref(id)+`/redial"]`); status != http.StatusOK {
		t.Fatalf("the redial link: %d", status)
	}
	calls := r.uc.callsTo(destRejected)
	// Unticked, the browser does not send the form…
	browse(t, r.tab, chromedp.Click(chromedp.CSS("form.confirm button[type=submit]")))
	if !eval[bool](t, r.tab, `document.querySelector("#confirm").validity.valueMissing`) {
		t.Error("the confirmation is not required by the form")
	}
	// …and dialhook refuses it too.
	eval[bool](t, r.tab, `document.querySelector("#confirm").required = false`)
	if status := submit(t, r.tab, "form.confirm button[type=submit]"); status != http.StatusBadRequest {
		t.Errorf("an unconfirmed redial answers %d, want 400", status)
	}
	if got := text(t, r.tab); !strings.Contains(got, "Tick “I confirm” to redial.") {
		t.Errorf("an unconfirmed redial does not say why:\n%s", got)
	}
	browse(t, r.tab, chromedp.Click(chromedp.ID("confirm")))
	if status := submit(t, r.tab, "form.confirm button[type=submit]"); status != http.StatusOK {
		t.Fatalf("a confirmed redial: %d", status)
	}
	if got := text(t, r.tab); !strings.Contains(got, "Redial requested") {
		t.Errorf("a confirmed redial is not confirmed:\n%s", got)
	}
	// The events page shows the state change live: dialing while uContact
	// takes its time, then placed.
	browse(t, r.tab, chromedp.Navigate(r.url("/ui/")))
	rowBadge := `document.querySelector('#rows a[href="` + eventHref(id) + `"]').closest("tr").querySelector(".badge").textContent`
	if got := eval[string](t, r.tab, rowBadge); got != "queued" && got != "dialing" {
		t.Fatalf("the redialed event is %s while uContact has not answered yet", got)
	}
	eval[bool](t, r.tab, `window.dialhookMark = true`)
	waitFor(t, r.tab, rowBadge+` == "placed"`, redialDelay+2*time.Second, "the redialed event placed on the events page")
	if !eval[bool](t, r.tab, `window.dialhookMark === true`) {
		t.Fatal("the page was reloaded")
	}
	if n := r.uc.callsTo(destRejected); n != calls+1 {
		t.Errorf("%d AgentCalls after the redial, want %d (one more)", n, calls+1)
	}
	browse(t, r.tab, chromedp.Navigate(r.url(eventHref(id))))
	if got := eval[string](t, r.tab, `document.querySelector("ol.timeline").innerText`); !strings.Contains(got, "redial requested by console") {
		t.Errorf("the timeline does not show the redial:\n%s", got)
	}
}

// The refused page shows the bad HubSpot signature with its reason (the
// scheme and the URL signed), masked: neither the signature sent nor the
// one expected.
func (r *consoleRig) refused(t *testing.T) {
	reloadUntil(t, r.tab, r.url("/ui/refused"), `document.body.innerText.includes("bad signature")`, 5*time.Second,
		"the bad signature on the refused page")
	rows := eval[[]string](t, r.tab, `[...document.querySelectorAll(".refusals summary")].map(s => s.innerText)`)
	var sig, malformed string
	for _, row := range rows {
		switch {
		case strings.Contains(row, "bad signature"):
			sig = row
		case strings.Contains(row, "malformed"):
			malformed = row
		}
	}
	for _, want := range []string{"hubspot", "401", "unauthorized", "HubSpot v3", r.url("/webhooks/hubspot")} {
		if !strings.Contains(sig, want) {
			t.Errorf("the refused signature %q does not say %q", sig, want)
		}
	}
	if !strings.Contains(malformed, "generic") || !strings.Contains(malformed, "400") {
		t.Errorf("the malformed body is shown as %q", malformed)
	}
	page := html(t, r.tab)
	stamps := eval[[]string](t, r.tab, `[...document.querySelectorAll(".refusals tr")]
		.filter(tr => tr.querySelector("th") && tr.querySelector("th").textContent == "X-Hubspot-Request-Timestamp").map(tr => tr.querySelector("td").textContent)`)
	if len(stamps) != 1 {
		t.Fatalf("the refused page shows %d HubSpot timestamps, want the bad signature's one", len(stamps))
	}
	body := string(samples.Body(samples.HubSpotWorkflowContact))
	for _, sig := range []string{r.hubspotSignature(samples.HubSpotSecret, body, stamps[0]), r.hubspotSignature("not-the-secret", body, stamps[0])} {
		if strings.Contains(page, sig) {
			t.Errorf("the refused page shows a signature: %s", sig)
		}
	}
	if got := eval[[]string](t, r.tab, `[...document.querySelectorAll(".refusals tr")]
		.filter(tr => tr.querySelector("th") && tr.querySelector("th").textContent == "X-Hubspot-Signature-V3").map(tr => tr.querySelector("td").textContent)`); !slices.Equal(got, []string{"••••••"}) {
		t.Errorf("the signature header is shown as %q, want it masked", got)
	}
	if strings.Contains(page, samples.HubSpotSecret) {
		t.Error("the refused page shows the HubSpot secret")
	}
}

// The playground maps a pasted body: the AgentCall parameters and the
// decisions, dialing nothing.
func (r *consoleRig) playground(t *testing.T) {
	const dest = "59899555123"
	browse(t, r.tab, chromedp.Navigate(r.url("/ui/sources/generic/playground")),
		chromedp.SetValue(chromedp.ID("p-body"), leadBody("lead-play", dest, "1005")))
	if status := submit(t, r.tab, "form.playground button[type=submit]"); status != http.StatusOK {
		t.Fatalf("the playground: %d", status)
	}
	got := eval[map[string]string](t, r.tab, `Object.fromEntries([...document.querySelectorAll("section[aria-labelledby=h-result] .mapped table.kv tr")]
		.map(tr => [tr.querySelector("th").textContent, tr.querySelector("td").innerText]))`)
	want := map[string]string{"callerid": "59821234567", "agent": "1005", "phone": "1005", "tech": "SIP",
		"context": "agentes", "outqueue": "Ventas->", "destination": dest}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the playground shows %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if n := eval[int](t, r.tab, `document.querySelectorAll("section[aria-labelledby=h-result] ol.decisions li").length`); n == 0 {
		t.Error("the playground shows no decisions")
	}
	time.Sleep(200 * time.Millisecond) // a dial, were one started, would have happened by now
	if n := r.uc.callsTo(dest); n != 0 {
		t.Errorf("the playground dialed %d times", n)
	}
}

// At 360 px wide no page scrolls sideways (wide tables scroll in their
// own region).
func (r *consoleRig) narrow(t *testing.T) {
	tab, cancel := chromedp.NewContext(r.tab) // a tab of its own: the main one keeps the desktop size
	defer cancel()
	// Opened on tab itself: a context derived from it would close the tab.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/ui/", eventHref(r.ids["hubspot"]), eventHref(r.ids["placed"]) + "/redial",
		"/ui/refused", "/ui/sources", "/ui/sources/hubspot/playground", "/ui/health"} {
		browse(t, tab, chromedp.Navigate(r.url(path)))
		w := eval[[]int](t, tab, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
		if w[1] != 360 || w[0] > w[1] {
			t.Errorf("%s at 360 px: %d px wide in a %d px viewport; sticking out: %v", path, w[0], w[1], eval[[]string](t, tab, stickingOut))
		}
	}
}

// stickingOut lists the outermost elements wider than the viewport that
// no scrolling region holds: what makes a page scroll sideways.
const stickingOut = `(() => {
	const vw = document.documentElement.clientWidth;
	const scrolls = e => ["auto", "scroll", "hidden"].includes(getComputedStyle(e).overflowX);
	const held = e => { for (let p = e.parentElement; p; p = p.parentElement) if (scrolls(p)) return true; return false; };
	const out = [];
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		const el = n.nodeType === 1 ? n : n.parentElement;
		const range = document.createRange();
		range.selectNodeContents(n);
		const right = n.nodeType === 1 ? n.getBoundingClientRect().right : range.getBoundingClientRect().right;
		if (right > vw + 0.5 && !held(n.nodeType === 1 ? n : el.firstChild || el)) {
			out.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " (" + Math.round(right) + " px): " + n.textContent.trim().slice(0, 60));
		}
	}
	return out.slice(0, 8);
})()`

// The events page's search box is reached with Tab alone, and every form
// control of every page has a label.
func (r *consoleRig) keyboard(t *testing.T) {
	browse(t, r.tab, chromedp.Navigate(r.url("/ui/")))
	var seen []string
	for i := 0; i < 40 && !slices.Contains(seen, "f-q"); i++ {
		browse(t, r.tab, chromedp.KeyEvent(kb.Tab))
		seen = append(seen, eval[string](t, r.tab, `(e => e.id || e.tagName.toLowerCase() + (e.textContent ? ":" + e.textContent.trim() : ""))(document.activeElement)`))
	}
	if !slices.Contains(seen, "f-q") {
		t.Errorf("40 Tab presses do not reach the search box; they went through %q", seen)
	}
	t.Logf("%d Tab presses reach the search box", len(seen))
	for _, path := range []string{"/ui/", "/ui/refused", "/ui/sources/generic/playground", eventHref(r.ids["failed"]) + "/redial"} {
		browse(t, r.tab, chromedp.Navigate(r.url(path)))
		controls := eval[[]string](t, r.tab, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
			.map(e => (e.labels && e.labels.length) || e.getAttribute("aria-label") ? "" : e.outerHTML)`)
		if len(controls) == 0 {
			t.Errorf("%s has no form control", path)
		}
		if unlabelled := slices.DeleteFunc(controls, func(s string) bool { return s == "" }); len(unlabelled) > 0 {
			t.Errorf("%s has controls without a label: %v", path, unlabelled)
		}
	}
}

// screenshots writes the README's pictures of the console at the desktop
// size, once the test has filled it.
func (r *consoleRig) screenshots(t *testing.T, dir string) {
	for _, s := range []shot{
		{name: "console-events", path: "/ui/"},
		{name: "console-event", path: eventHref(r.ids["rejected"]), full: true},
		{name: "console-refused", path: "/ui/refused", prepare: `[...document.querySelectorAll(".refusals details")]
			.find(d => d.querySelector("summary").textContent.includes("bad signature")).open = true`},
		{name: "console-sources", path: "/ui/sources"},
	} {
		screenshot(t, r.tab, dir, r.base, s)
	}
}
