package console_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"dialhook/console"
)

// Without a session, a page sends the browser to sign in, keeping where
// it was going; the live endpoint says so in JSON.
func TestSignInRedirectKeepsTheWantedURL(t *testing.T) {
	e := newEnv(t, adminToken)
	b := e.browser()
	for _, target := range []string{"/ui/", "/ui/events/abc?done=redial", "/ui/refused?source=crm", "/ui/health"} {
		p := b.get(target)
		wantStatus(t, p, http.StatusSeeOther)
		if got, want := p.Header.Get("Location"), "/ui/signin?next="+url.QueryEscape(target); got != want {
			t.Errorf("GET %s: Location %q, want %q", target, got, want)
		}
	}
	p := b.get("/ui/live")
	wantStatus(t, p, http.StatusUnauthorized)
	wantText(t, p, `"signed_out"`)
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, adminToken)
	b := e.browser()
	p := b.get("/ui/signin?next=" + url.QueryEscape("/ui/health"))
	wantStatus(t, p, http.StatusOK)
	wantText(t, p, `<label for="token">Admin token</label>`, `type="password"`, `value="/ui/health"`)

	wrong := b.post("/ui/signin", url.Values{"token": {"not-the-token"}, "next": {"/ui/health"}})
	wantStatus(t, wrong, http.StatusUnauthorized)
	wantText(t, wrong, "That is not the admin token")
	if _, ok := b.cookies["dialhook_session"]; ok {
		t.Fatal("a wrong token got a session")
	}

	p = b.post("/ui/signin", url.Values{"token": {adminToken}, "next": {"/ui/health"}})
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/ui/health" {
		t.Errorf("Location %q, want /ui/health", loc)
	}
	ck := b.cookies["dialhook_session"]
	switch {
	case ck == nil:
		t.Fatal("no session cookie")
	case !ck.HttpOnly, ck.SameSite != http.SameSiteStrictMode, ck.Path != "/ui/", ck.Secure:
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui/, not Secure over plain HTTP", ck)
	case ck.MaxAge != int((12 * time.Hour).Seconds()):
		t.Errorf("session cookie MaxAge %d, want 12h", ck.MaxAge)
	case strings.Contains(ck.Value, adminToken):
		t.Error("the session cookie holds the token")
	}
	wantStatus(t, b.get("/ui/health"), http.StatusOK)
	wantStatus(t, b.get("/ui/live"), http.StatusOK)
	// Signed in, the sign-in page goes on.
	wantStatus(t, b.get("/ui/signin"), http.StatusSeeOther)
}

// The destination after sign-in stays in the console.
func TestSignInNextStaysInConsole(t *testing.T) {
	for _, next := range []string{"//evil.example/ui/", "https://evil.example/", "/ui/\\evil", "/ui/../events", "/elsewhere", ""} {
		e := newEnv(t, adminToken)
		b := e.browser()
		b.get("/ui/signin")
		p := b.post("/ui/signin", url.Values{"token": {adminToken}, "next": {next}})
		if loc := p.Header.Get("Location"); loc != "/ui/" {
			t.Errorf("next %q: Location %q, want /ui/", next, loc)
		}
	}
}

func TestSessionCookieIsSecure(t *testing.T) {
	cases := []struct {
		name   string
		public string
		tls    bool
	}{
		{"over TLS", "", true},
		{"public_base_url https", "https://abc.ngrok-free.app", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := console.New(console.Options{Store: newTestStore(), AdminToken: adminToken, PublicBaseURL: c.public})
			get := httptest.NewRequest(http.MethodGet, "/ui/signin", nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, get)
			csrfCk := rec.Result().Cookies()[0]
			token := csrfInput.FindStringSubmatch(rec.Body.String())[1]
			form := url.Values{"token": {adminToken}, "csrf": {token}}
			req := httptest.NewRequest(http.MethodPost, "/ui/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(csrfCk)
			if c.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var session *http.Cookie
			for _, ck := range rec.Result().Cookies() {
				if ck.Name == "dialhook_session" {
					session = ck
				}
			}
			if session == nil || !session.Secure {
				t.Fatalf("session cookie %+v, want Secure", session)
			}
		})
	}
}

// A session cookie that was changed, made up, signed with another token
// or expired is no session.
func TestSessionTampering(t *testing.T) {
	e := newEnv(t, adminToken)
	good := e.browser()
	good.signIn(t)
	value := good.cookies["dialhook_session"].Value
	parts := strings.Split(value, ".")
	if len(parts) != 4 {
		t.Fatalf("session %q: want v1.EXPIRY.NONCE.MAC", value)
	}
	flip := func(s string) string {
		if s[len(s)-1] == 'A' {
			return s[:len(s)-1] + "B"
		}
		return s[:len(s)-1] + "A"
	}
	other := newEnv(t, "another-admin-token-999")
	ob := other.browser()
	ob.signIn2(t, "another-admin-token-999")
	cases := map[string]string{
		"later expiry":   parts[0] + ".9999999999." + parts[2] + "." + parts[3],
		"changed nonce":  parts[0] + "." + parts[1] + "." + flip(parts[2]) + "." + parts[3],
		"changed mac":    parts[0] + "." + parts[1] + "." + parts[2] + "." + flip(parts[3]),
		"no mac":         parts[0] + "." + parts[1] + "." + parts[2],
		"made up":        "v1.9999999999.abc.def",
		"empty":          "",
		"other token":    ob.cookies["dialhook_session"].Value,
		"the token":      adminToken,
		"version 2":      "v2" + strings.TrimPrefix(value, "v1"),
		"garbage":        "%%%...",
		"double session": value + "." + parts[3],
	}
	for name, v := range cases {
		b := e.browser()
		b.cookies["dialhook_session"] = &http.Cookie{Name: "dialhook_session", Value: v}
		if p := b.get("/ui/"); p.Status != http.StatusSeeOther {
			t.Errorf("%s: status %d, want a redirect to sign in", name, p.Status)
		}
	}
	wantStatus(t, good.get("/ui/"), http.StatusOK)
	// Another replica with the same token accepts the session.
	replica := newEnv(t, adminToken)
	rb := replica.browser()
	rb.cookies["dialhook_session"] = good.cookies["dialhook_session"]
	wantStatus(t, rb.get("/ui/"), http.StatusOK)
	// 12 hours later it has expired.
	e.now = e.now.Add(12*time.Hour + time.Minute)
	wantStatus(t, good.get("/ui/"), http.StatusSeeOther)
}

// signIn2 signs in with a token of its own.
func (b *browser) signIn2(t *testing.T, token string) {
	t.Helper()
	b.get("/ui/signin")
	if p := b.post("/ui/signin", url.Values{"token": {token}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %s", p)
	}
}

func TestSignOut(t *testing.T) {
	e := newEnv(t, adminToken)
	b := e.browser()
	b.signIn(t)
	p := b.get("/ui/")
	wantText(t, p, `action="/ui/signout"`)
	p = b.post("/ui/signout", nil)
	wantStatus(t, p, http.StatusSeeOther)
	if _, ok := b.cookies["dialhook_session"]; ok {
		t.Fatal("sign-out kept the session cookie")
	}
	wantStatus(t, b.get("/ui/"), http.StatusSeeOther)
}

// Every state-changing POST needs the CSRF token of its browser.
func TestCSRF(t *testing.T) {
	for _, token := range []string{adminToken, ""} {
		e := newEnv(t, token)
		ev := e.lead("csrf-1", "099 123 456")
		b := e.browser()
		if token != "" {
			b.signIn(t)
		}
		b.get("/ui/")
		attacker := e.browser()
		attacker.get("/ui/") // its own CSRF cookie and token
		posts := []string{"/ui/events/" + ev.ID + "/redial", "/ui/events/" + ev.ID + "/replay", "/ui/sources/crm/playground", "/ui/signout"}
		for _, target := range posts {
			for name, csrf := range map[string]string{"missing": "", "wrong": "bm90LWEtdG9rZW4", "another browser's": attacker.csrf} {
				p := b.post(target, url.Values{"csrf": {csrf}, "confirm": {"yes"}, "body": {"{}"}})
				if p.Status != http.StatusForbidden {
					t.Errorf("token %q: POST %s with a %s CSRF token: %d, want 403", token, target, name, p.Status)
				}
			}
		}
		if e.replayer.calls != 0 {
			t.Error("a POST without its CSRF token replayed")
		}
		if got, _ := e.st.Get(t.Context(), ev.ID); len(got.Redials) != 0 {
			t.Error("a POST without its CSRF token redialed")
		}
	}
	// The sign-in form needs its token too.
	e := newEnv(t, adminToken)
	b := e.browser()
	b.get("/ui/signin")
	wantStatus(t, b.post("/ui/signin", url.Values{"token": {adminToken}, "csrf": {""}}), http.StatusForbidden)
}

// Without a token the console answers loopback clients only; a request
// through a proxy or tunnel is not one, whatever its peer address.
func TestLoopbackOnlyWithoutToken(t *testing.T) {
	e := newEnv(t, "")
	cases := []struct {
		name   string
		remote string
		header [2]string
		want   int
	}{
		{"loopback", "127.0.0.1:5000", [2]string{}, http.StatusOK},
		{"ipv6 loopback", "[::1]:5000", [2]string{}, http.StatusOK},
		{"remote", "192.0.2.1:5000", [2]string{}, http.StatusForbidden},
		{"X-Forwarded-For", "127.0.0.1:5000", [2]string{"X-Forwarded-For", "203.0.113.9"}, http.StatusForbidden},
		{"Forwarded", "127.0.0.1:5000", [2]string{"Forwarded", "for=203.0.113.9"}, http.StatusForbidden},
		{"X-Real-IP", "127.0.0.1:5000", [2]string{"X-Real-IP", "203.0.113.9"}, http.StatusForbidden},
		{"ngrok", "127.0.0.1:5000", [2]string{"Ngrok-Skip-Browser-Warning", "true"}, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, target := range []string{"/ui/", "/ui/health", "/ui/sources", "/ui/refused"} {
				b := e.browser()
				b.remote = c.remote
				if c.header[0] != "" {
					b.header.Set(c.header[0], c.header[1])
				}
				p := b.get(target)
				wantStatus(t, p, c.want)
				if c.want == http.StatusForbidden {
					wantText(t, p, "DIALHOOK_ADMIN_TOKEN")
					wantNoText(t, p, `href="/ui/health"`)
				}
			}
		})
	}
	b := e.browser()
	b.remote = "192.0.2.1:5000"
	wantStatus(t, b.get("/ui/live"), http.StatusForbidden)
	// No token, no sign-in page.
	wantStatus(t, e.browser().get("/ui/signin"), http.StatusSeeOther)
}

func TestStaticFilesAndHeaders(t *testing.T) {
	e := newEnv(t, adminToken)
	b := e.browser()
	b.remote = "192.0.2.1:5000"
	for path, ctype := range map[string]string{"/ui/static/console.css": "text/css", "/ui/static/console.js": "text/javascript"} {
		p := b.get(path)
		wantStatus(t, p, http.StatusOK)
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, ctype) {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
	}
	p := b.get("/ui/signin")
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if p.Header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	// Nothing comes from elsewhere, and no script is inline.
	for _, bad := range []string{"http://", "https://", "<script>", "style="} {
		if strings.Contains(p.Body, bad) {
			t.Errorf("the sign-in page holds %q", bad)
		}
	}
}
