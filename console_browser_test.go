package main

// The operator console in a real browser (headless Chromium driven with
// chromedp) against the real service: sign in, live updates, filters,
// search, an event's masked request and mapping trail, a confirmed
// redial, the refused log, the playground, a 360 px screen and the
// keyboard. DIALHOOK_SCREENSHOTS=docs also writes the README's
// screenshots (docs/console-*.png).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"dialhook/internal/samples"
	"dialhook/internal/testredis"
)

const (
	consoleAdminToken = "console-admin-token-4242"
	// What the CRM of the first event sends as credentials: the console
	// must show neither.
	crmBearer  = "crm-bearer-secret-8841"
	queryToken = "crm-query-token-7715"
)

// The destinations of the test events, each answered its own way by the
// scripted uContact.
const (
	destPlaced   = "59899123456" // the README's lead: placed
	destRejected = "59899765432" // uContact answers 0 (rejected), then a GUID after redialDelay
	destFailed   = "59894111222" // uContact answers 401 (failed)
)

// redialDelay is how long uContact takes to answer the redial: the
// events page shows the event dialing, then placed.
const redialDelay = 2 * time.Second

// readmeLead is the body of the README's first curl.
const readmeLead = `{
  "event_id": "lead-1", "callerid": "59821234567", "agent": "1001", "phone": "1001",
  "context": "agentes", "outqueue": "Ventas->", "destination": "59899123456"}`

// consoleConfig serves the README's generic source and a signed HubSpot
// source.
const consoleConfig = `
defaults: {callerid: "59829001234", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
agents:
  routes: {"71234567": {agent: "1002", phone: "1002"}}
  fallback: {agent: "1000", phone: "1000"}
sources:
  generic: {kind: generic}
  hubspot: {kind: hubspot, secret: ` + samples.HubSpotSecret + `}
`

func leadBody(id, dest, agent string) string {
	return fmt.Sprintf(`{"event_id":%q,"callerid":"59821234567","agent":%q,"phone":%q,"context":"agentes","outqueue":"Ventas->","destination":%q}`,
		id, agent, agent, dest)
}

// consoleRig is a dialhook serving the console, the uContact it calls and
// the browser looking at it.
type consoleRig struct {
	base, token string
	uc          *scriptedUContact
	tab         context.Context
	ids         map[string]string // the test's name of an event → its id
}

// startConsole starts the service (on Redis when redisURL is set; signing
// in with token when it is set, else loopback only) and a browser.
func startConsole(t *testing.T, redisURL, token string) *consoleRig {
	t.Helper()
	tab := newBrowser(t) // first: skips before anything starts without Chromium
	uc := newScriptedUContact(t, map[string][]ucAnswer{
		destRejected: {{status: http.StatusOK, body: "0"}, {status: http.StatusOK, delay: redialDelay}},
		destFailed:   {{status: http.StatusUnauthorized, body: "bad credentials"}},
	})
	cfg := filepath.Join(t.TempDir(), "dialhook.yaml")
	if err := os.WriteFile(cfg, []byte(consoleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"UCONTACT_BASE_URL": uc.srv.URL, "UCONTACT_TOKEN": "dG9rZW4=", "DIALHOOK_LOG_LEVEL": "error"}
	if token != "" {
		env["DIALHOOK_ADMIN_TOKEN"] = token
	}
	if redisURL != "" {
		env["DIALHOOK_REDIS_URL"] = redisURL
	}
	base, _ := startService(t, env, "--config", cfg)
	return &consoleRig{base: base, token: token, uc: uc, tab: tab, ids: map[string]string{}}
}

func (r *consoleRig) url(path string) string { return r.base + path }

// webhook posts body to path, checks the status and keeps the event's id
// as name.
func (r *consoleRig) webhook(t *testing.T, name, path, body string, want int, hdr ...string) {
	t.Helper()
	status, ans := post(t, r.url(path), body, hdr...)
	id, _ := ans["event_id"].(string)
	if status != want || id == "" {
		t.Fatalf("%s: POST %s = %d %v, want %d with an event id", name, path, status, ans, want)
	}
	r.ids[name] = id
}

// waitState waits until the admin API says the event is in state.
func (r *consoleRig) waitState(t *testing.T, name, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, r.url("/events/"+r.ids[name]), nil)
		if r.token != "" {
			req.Header.Set("Authorization", "Bearer "+r.token)
		}
		var rec map[string]any
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&rec)
			resp.Body.Close()
		}
		if rec["state"] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s is %v, want %s", name, rec["state"], state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// seed sends the rest of the test's events: one uContact rejects, one
// it refuses (401), one the mapping rejects, a signed HubSpot contact, a
// redelivery of the first; and two deliveries dialhook refuses (a bad HubSpot signature, a
// malformed body).
func (r *consoleRig) seed(t *testing.T) {
	t.Helper()
	r.webhook(t, "rejected", "/webhooks/generic?wait=10s", leadBody("lead-2", destRejected, "1001"), http.StatusOK,
		"Authorization", "Bearer "+crmBearer)
	r.webhook(t, "failed", "/webhooks/generic?wait=10s", leadBody("lead-3", destFailed, "1004"), http.StatusOK)
	r.webhook(t, "unmapped", "/webhooks/generic", `{"event_id":"lead-4","agent":"1003","phone":"1003"}`, http.StatusUnprocessableEntity)
	body := string(samples.Body(samples.HubSpotWorkflowContact))
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	r.webhook(t, "hubspot", "/webhooks/hubspot", body, http.StatusAccepted, "X-HubSpot-Request-Timestamp", ts,
		"X-HubSpot-Signature-v3", r.hubspotSignature(samples.HubSpotSecret, body, ts))
	if status, ans := post(t, r.url("/webhooks/hubspot"), body, "X-HubSpot-Request-Timestamp", ts,
		"X-HubSpot-Signature-v3", r.hubspotSignature("not-the-secret", body, ts)); status != http.StatusUnauthorized {
		t.Fatalf("a bad HubSpot signature = %d %v", status, ans)
	}
	// The CRM delivers the first event again: a duplicate, not dialed.
	if status, ans := post(t, r.url("/webhooks/generic"), readmeLead); status != http.StatusOK || ans["status"] != "duplicate" {
		t.Fatalf("a redelivery = %d %v", status, ans)
	}
	if status, ans := post(t, r.url("/webhooks/generic"), `{"event_id":"lead-5",`); status != http.StatusBadRequest {
		t.Fatalf("a malformed body = %d %v", status, ans)
	}
	for name, state := range map[string]string{"placed": "placed", "rejected": "rejected", "failed": "failed", "hubspot": "placed"} {
		r.waitState(t, name, state)
	}
}

// hubspotSignature signs a delivery to the rig's HubSpot source as
// HubSpot does (v3).
func (r *consoleRig) hubspotSignature(secret, body, ts string) string {
	return samples.HubSpotV3(secret, http.MethodPost, r.url("/webhooks/hubspot"), []byte(body), ts)
}

// The console with an admin token, on the embedded in-memory store.
func TestBrowserConsole(t *testing.T) {
	r := startConsole(t, "", consoleAdminToken)
	if !t.Run("sign in", r.signIn) {
		return
	}
	r.exercise(t)
	if dir := screenshotDir(); dir != "" {
		t.Run("screenshots", func(t *testing.T) { r.screenshots(t, dir) })
	}
}

// The console without a token (loopback only), on real Redis.
func TestBrowserConsoleRedis(t *testing.T) {
	browserPath(t) // skips before Redis is touched without Chromium
	// The service's namespace is not configurable: a database of its own
	// keeps this test's events apart (TestEndToEnd uses 9).
	url := strings.TrimSuffix(testredis.URL(t), "/0") + "/10"
	flushDB(t, url)
	r := startConsole(t, url, "")
	t.Run("loopback needs no sign-in", func(t *testing.T) {
		browse(t, r.tab, chromedp.Navigate(r.url("/")))
		waitFor(t, r.tab, `location.pathname == "/ui/" && document.querySelector("h1").textContent == "Events"`,
			5*time.Second, "GET / shows the events page")
		if eval[bool](t, r.tab, `!!document.querySelector("form.signout")`) {
			t.Error("a loopback console offers to sign out")
		}
	})
	r.exercise(t)
}

// exercise runs every check but signing in, in order: the live update
// first (it sends the first event), then the seeded events.
func (r *consoleRig) exercise(t *testing.T) {
	start := time.Now()
	if !t.Run("a webhook appears without a reload", r.live) {
		return
	}
	r.seed(t)
	t.Run("filter by state", r.filterByState)
	t.Run("search by a formatted number", r.search)
	t.Run("an event's masked request and mapping trail", r.event)
	t.Run("redial with confirmation", r.redial)
	t.Run("refused deliveries", r.refused)
	t.Run("playground", r.playground)
	t.Run("360 px wide", r.narrow)
	t.Run("keyboard and labels", r.keyboard)
	t.Logf("browser checks took %s", time.Since(start).Round(time.Millisecond))
}

// rowHrefs lists the event links of the events table.
func rowHrefs(t *testing.T, tab context.Context) []string {
	return eval[[]string](t, tab, `[...document.querySelectorAll("#rows a[href^='/ui/events/']")].map(a => a.getAttribute("href"))`)
}

// wantRows checks that the events table holds the events named in and
// none of those named out.
func (r *consoleRig) wantRows(t *testing.T, in, out []string) {
	t.Helper()
	hrefs := rowHrefs(t, r.tab)
	for _, name := range in {
		if !slices.Contains(hrefs, eventHref(r.ids[name])) {
			t.Errorf("the %s event is not listed: %v", name, hrefs)
		}
	}
	for _, name := range out {
		if slices.Contains(hrefs, eventHref(r.ids[name])) {
			t.Errorf("the %s event is listed", name)
		}
	}
}
