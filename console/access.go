package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"dialhook/internal/access"
)

// The console's cookies. Both are HttpOnly, SameSite=Strict and scoped to
// /ui/; the session is signed, the CSRF cookie is a random nonce.
const (
	sessionCookie = "dialhook_session"
	csrfCookie    = "dialhook_csrf"
	cookiePath    = "/ui/"
	csrfField     = "csrf"
	formLimit     = 64 << 10
)

// keys sign the session cookies and derive CSRF tokens.
type keys struct {
	session []byte // nil without an admin token
	csrf    []byte
}

// derivedKeys come from the admin token, so that every replica configured
// with the same token accepts the sessions and forms of the others.
func derivedKeys(token string) keys {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("dialhook console " + purpose))
		return m.Sum(nil)
	}
	return keys{session: derive("session v1"), csrf: derive("csrf v1")}
}

var b64 = base64.RawURLEncoding

func mac(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return b64.EncodeToString(m.Sum(nil))
}

func nonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}

// newSession is a session cookie's value: "v1.EXPIRY.NONCE.MAC", the MAC
// over the rest, so that neither the expiry nor anything else can be
// changed or made up without the admin token.
func (c *Console) newSession(now time.Time) string {
	payload := "v1." + strconv.FormatInt(now.Add(c.ttl).Unix(), 10) + "." + nonce()
	return payload + "." + mac(c.keys.session, payload)
}

func (c *Console) validSession(v string, now time.Time) bool {
	payload, sig, ok := cutLast(v, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(mac(c.keys.session, payload))) {
		return false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	return err == nil && now.Unix() < exp
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

func cookieValue(r *http.Request, name string) string {
	if ck, err := r.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}

func (c *Console) signedIn(r *http.Request) bool {
	v := cookieValue(r, sessionCookie)
	return v != "" && c.validSession(v, c.now())
}

// subject is what a CSRF token is bound to: the session when signed in,
// else the browser's own random cookie ("" when it has none yet).
func (c *Console) subject(r *http.Request) string {
	if c.tokenMode && c.signedIn(r) {
		return "session:" + cookieValue(r, sessionCookie)
	}
	if v := cookieValue(r, csrfCookie); v != "" {
		return "nonce:" + v
	}
	return ""
}

// csrfFor answers the token a form rendered for r carries, setting the
// browser's CSRF cookie first when it has none.
func (c *Console) csrfFor(w http.ResponseWriter, r *http.Request) string {
	sub := c.subject(r)
	if sub == "" {
		v := nonce()
		c.setCookie(w, r, csrfCookie, v, 0)
		sub = "nonce:" + v
	}
	return mac(c.keys.csrf, sub)
}

// validCSRF reports whether r's form carries the token of its subject.
func (c *Console) validCSRF(r *http.Request) bool {
	sub := c.subject(r)
	got := r.PostFormValue(csrfField)
	return sub != "" && got != "" && hmac.Equal([]byte(got), []byte(mac(c.keys.csrf, sub)))
}

// setCookie sets a console cookie; maxAge < 0 deletes it. It is Secure
// when the request came over TLS or public_base_url is https.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || c.secureAll})
}

// verdict is what the access rule says of a request.
type verdict int

const (
	allowed verdict = iota
	signIn          // token mode, no valid session
	refused         // no token, and not a loopback client
)

// access applies the admin API's rule: with a token, a signed session;
// without one, loopback clients only (a forwarded request is not one).
func (c *Console) access(r *http.Request) verdict {
	switch {
	case c.tokenMode && c.signedIn(r):
		return allowed
	case c.tokenMode:
		return signIn
	case access.Loopback(r):
		return allowed
	}
	return refused
}

// guard lets a request through the access rule, and a POST only with its
// CSRF token; it parses the form of a POST.
func (c *Console) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch c.access(r) {
		case signIn:
			next := "/ui/"
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		case refused:
			c.forbidden(w, r)
			return
		}
		if r.Method == http.MethodPost && !c.checkPost(w, r) {
			return
		}
		h(w, r)
	}
}

// checkPost parses a POST's form under its limit and checks its CSRF
// token, answering 403 (or 413) itself when it fails.
func (c *Console) checkPost(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, c.maxBody+formLimit)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusRequestEntityTooLarge, "The form is too large or malformed.")
		return false
	}
	if !c.validCSRF(r) {
		c.fail(w, r, http.StatusForbidden, "This form has expired or did not come from this console (its CSRF token is missing or wrong). Go back, reload the page and try again.")
		return false
	}
	return true
}

// guardJSON is guard for the live endpoint: a script cannot follow a
// redirect to a sign-in page, so it is told in JSON.
func (c *Console) guardJSON(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch c.access(r) {
		case signIn:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "signed_out"})
		case refused:
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
		default:
			h(w, r)
		}
	}
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusForbidden, "forbidden", "Not available here", nil)
}

// safeNext keeps a sign-in's destination within the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.Contains(next, "/..") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

type signInView struct {
	Next  string
	Error string
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if !c.tokenMode || c.signedIn(r) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin", "Sign in", signInView{Next: next})
}

// signIn takes the admin token once and answers a signed session cookie.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !c.tokenMode {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, formLimit)
	if err := r.ParseForm(); err != nil || !c.validCSRF(r) {
		c.fail(w, r, http.StatusForbidden, "This sign-in form has expired (its CSRF token is missing or wrong). Reload the page and try again.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	got := []byte(r.PostFormValue("token"))
	if subtle.ConstantTimeCompare(got, c.token) != 1 {
		c.log.Warn("console sign-in refused: wrong admin token", zap.String("client", clientAddr(r)))
		c.render(w, r, http.StatusUnauthorized, "signin", "Sign in",
			signInView{Next: next, Error: "That is not the admin token (DIALHOOK_ADMIN_TOKEN)."})
		return
	}
	c.setCookie(w, r, sessionCookie, c.newSession(c.now()), int(c.ttl/time.Second))
	c.log.Info("console sign-in", zap.String("client", clientAddr(r)))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	c.setCookie(w, r, sessionCookie, "", -1)
	target := "/ui/signin"
	if !c.tokenMode {
		target = "/ui/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
