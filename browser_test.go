package main

// Helpers of the real-browser tests (console_browser_test.go): a headless
// Chromium driven with chromedp, and a uContact that answers per
// destination.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// browserNames are the names Chromium is installed under (Debian's
// package is chromium).
var browserNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// browserPath finds Chromium. Without one the test is skipped, except in
// CI (CI=true), where the browser tests must run: .ci/run installs it.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range browserNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	why := "no Chromium on PATH (looked for " + strings.Join(browserNames, ", ") + "): install Debian's chromium package to run the console's browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and " + why)
	}
	t.Skip("skipping: " + why)
	return ""
}

// The window the tests (and the screenshots) use.
const desktopWidth, desktopHeight = 1280, 900

// newBrowser starts one headless Chromium for the test function and
// answers its first tab; a new tab of the same browser (sharing its
// cookies) is chromedp.NewContext of it. The browser is stopped at the
// end of the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)),
		chromedp.Headless,  // in the defaults already: said for the reader
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.WindowSize(desktopWidth, desktopHeight),
		chromedp.CombinedOutput(io.Discard),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser on tab itself: a context derived
	// from it would close the browser when it ends.
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return tab
}

// stepTimeout bounds each browser step: a selector that never matches
// fails the test instead of hanging it.
const stepTimeout = 10 * time.Second

// browse runs steps in the tab, failing the test on the first error.
func browse(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v (at %s)", err, location(tab))
	}
}

// eval answers the value of a JavaScript expression in the tab.
func eval[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// waitFor waits until the JavaScript expression cond is true in the tab,
// for at most within; what says what was awaited when it never is. It
// asks every 50 ms from Go, so that a navigation in between (a form
// submitted, a redirect) does not break the wait.
func waitFor(t *testing.T, tab context.Context, cond string, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(tab, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				what += " (" + err.Error() + ")"
			}
			t.Fatalf("%s: not within %s at %s\npage text:\n%s", what, within, location(tab), text(t, tab))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// submit clicks sel (a submit button) and answers the HTTP status of the
// page it leads to, after redirects.
func submit(t *testing.T, tab context.Context, sel string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("submitting with %s: %v (at %s)", sel, err, location(tab))
	}
	return resp.Status
}

// reloadUntil loads url again until cond is true, for pages that do not
// update themselves (an event's state, the refused log written every
// second).
func reloadUntil(t *testing.T, tab context.Context, url, cond string, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		browse(t, tab, chromedp.Navigate(url))
		if eval[bool](t, tab, cond) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\npage text:\n%s", what, within, text(t, tab))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func location(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// text is what the page shows, as a reader sees it.
func text(t *testing.T, tab context.Context) string {
	return eval[string](t, tab, "document.body ? document.body.innerText : ''")
}

// html is the page's markup as the browser holds it now.
func html(t *testing.T, tab context.Context) string {
	return eval[string](t, tab, "document.documentElement.outerHTML")
}

// screenshotDir is where the console's screenshots are written, when
// DIALHOOK_SCREENSHOTS names a directory (`DIALHOOK_SCREENSHOTS=docs`);
// "" (the default, and CI) writes none, so that a test run never changes
// the tree.
func screenshotDir() string { return os.Getenv("DIALHOOK_SCREENSHOTS") }

// shot is one screenshot: the page at path, after the JavaScript prepare
// ran ("" for none); the whole page when full, else the viewport.
type shot struct {
	name, path, prepare string
	full                bool
}

// screenshot writes s of the console at base, at the desktop size, as
// dir/NAME.png.
func screenshot(t *testing.T, tab context.Context, dir, base string, s shot) {
	t.Helper()
	browse(t, tab, chromedp.EmulateViewport(desktopWidth, desktopHeight), chromedp.Navigate(base+s.path))
	if s.prepare != "" {
		eval[chromedp.Void](t, tab, s.prepare)
	}
	capture := chromedp.CaptureScreenshot()
	if s.full {
		capture = chromedp.FullScreenshot(100) // 100: PNG
	}
	ctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, capture)
	if err != nil {
		t.Fatalf("screenshot of %s: %v", s.path, err)
	}
	path := filepath.Join(dir, s.name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KB)", path, len(png)/1024)
}

// ucAnswer is one answer of the fake uContact.
type ucAnswer struct {
	status int
	body   string        // "" answers a new call GUID
	delay  time.Duration // how long uContact takes to answer
}

// scriptedUContact is an AgentCall endpoint whose answers are scripted per
// destination: the nth call to a destination gets its nth answer (the last
// one again after that), and any other destination a GUID.
type scriptedUContact struct {
	mu     sync.Mutex
	script map[string][]ucAnswer
	calls  map[string]int
	srv    *httptest.Server
}

func newScriptedUContact(t *testing.T, script map[string][]ucAnswer) *scriptedUContact {
	u := &scriptedUContact{script: script, calls: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Integra/resources/Agents/AgentCall" {
			http.NotFound(w, r)
			return
		}
		dest := r.PostFormValue("destination")
		u.mu.Lock()
		n := u.calls[dest]
		u.calls[dest]++
		answers := u.script[dest]
		u.mu.Unlock()
		a := ucAnswer{status: http.StatusOK}
		if len(answers) > 0 {
			a = answers[min(n, len(answers)-1)]
		}
		if a.body == "" && a.status == http.StatusOK {
			a.body = uuid.NewString()
		}
		time.Sleep(a.delay)
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// callsTo counts the AgentCalls to a destination.
func (u *scriptedUContact) callsTo(dest string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[dest]
}

// eventHref is the path of an event's page.
func eventHref(id string) string { return "/ui/events/" + id }
