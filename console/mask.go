package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/url"
	"slices"
	"strings"

	"dialhook/store"
)

// masked is what a secret is shown as.
const masked = "••••••"

// secretWords are parts of a header or query parameter name that say its
// value is a credential. The request is masked before it is stored; the
// console masks again by name in case a sender used a header nobody
// foresaw (defence in depth).
var secretWords = [...]string{"authorization", "cookie", "sig", "token", "secret", "password", "passwd",
	"key", "auth", "credential", "session"}

// secretName reports whether a header or query parameter called name
// carries a credential.
func secretName(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "code": // Dynamics' WebhookKey
		return true
	case "idempotency-key": // the generic kind's event id
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// maskedAlready reports whether a stored value is a mask (the capture
// masked it), whatever the mask's length: only stars or bullets.
func maskedAlready(v string) bool {
	return v != "" && strings.Trim(v, "*•") == ""
}

// newRedactor replaces every configured secret with the mask.
func newRedactor(secrets []string) *strings.Replacer {
	var keep []string
	for _, s := range secrets {
		if len(s) >= 8 && !slices.Contains(keep, s) {
			keep = append(keep, s)
		}
	}
	// The longest first: a secret that contains another is replaced whole.
	slices.SortFunc(keep, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(keep))
	for _, s := range keep {
		pairs = append(pairs, s, masked)
	}
	return strings.NewReplacer(pairs...)
}

func (c *Console) scrub(s string) string { return c.redact.Replace(s) }

// newOutputRedactor is the last line of defence, over every page and
// fragment rendered: each configured secret, as written and as HTML
// escapes it, is replaced with the mask, whatever field carried it (an
// error text, a stored attempt).
func newOutputRedactor(secrets []string) *strings.Replacer {
	var all []string
	for _, s := range secrets {
		all = append(all, s, template.HTMLEscapeString(s))
	}
	return newRedactor(all)
}

// header is one request header as shown.
type header struct {
	Name, Value string
	Masked      bool
}

// requestView is a stored request as the event and refused pages show it.
type requestView struct {
	Method, Path string
	Headers      []header
	Body         string
	JSON         bool
	Size, Kept   int
	Truncated    bool
	Verified     string
	RemoteAddr   string
}

// viewRequest masks rq again and pretty-prints its body; bodyMax > 0 cuts
// the body shown.
func (c *Console) viewRequest(rq *store.Request, bodyMax int) *requestView {
	if rq == nil {
		return nil
	}
	v := &requestView{Method: rq.Method, Path: c.scrub(maskQuery(rq.Path)), Size: rq.Size, Truncated: rq.Truncated,
		Verified: rq.Verified, RemoteAddr: rq.RemoteAddr, Kept: len(rq.Body)}
	v.Headers = c.maskHeaders(rq.Headers)
	body := rq.Body
	if bodyMax > 0 && len(body) > bodyMax {
		body, v.Truncated, v.Kept = body[:bodyMax], true, bodyMax
	}
	var pretty bytes.Buffer
	if json.Valid([]byte(body)) && json.Indent(&pretty, []byte(body), "", "  ") == nil {
		body, v.JSON = pretty.String(), true
	}
	v.Body = c.scrub(body)
	return v
}

// maskHeaders sorts the headers by name and masks each credential.
func (c *Console) maskHeaders(h map[string]string) []header {
	out := make([]header, 0, len(h))
	for name, value := range h {
		hd := header{Name: name, Value: c.scrub(value)}
		if secretName(name) || maskedAlready(value) {
			hd.Value, hd.Masked = masked, true
		}
		out = append(out, hd)
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// maskQuery masks the values of a path's query parameters that carry a
// credential.
func maskQuery(path string) string {
	p, q, ok := strings.Cut(path, "?")
	if !ok {
		return path
	}
	return p + "?" + mapQuery(q, func(name string) string { return masked })
}

// mapQuery rewrites the values of the credential parameters of a raw
// query with repl(name), keeping the order and the other parameters as
// they were sent.
func mapQuery(raw string, repl func(name string) string) string {
	parts := strings.Split(raw, "&")
	for i, part := range parts {
		k, _, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if secretName(name) {
			parts[i] = k + "=" + repl(name)
		}
	}
	return strings.Join(parts, "&")
}
