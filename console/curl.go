package console

import (
	"net/http"
	"slices"
	"strings"

	"dialhook/store"
)

// curlSkip are headers curl sets itself, or that a proxy or tunnel added
// on the way in: a re-sent request must not carry them.
var curlSkip = [...]string{"host", "content-length", "connection", "transfer-encoding", "accept-encoding",
	"expect", "keep-alive", "te", "upgrade", "via", "forwarded"}

func skipForCurl(name string) bool {
	n := strings.ToLower(name)
	return slices.Contains(curlSkip[:], n) || strings.HasPrefix(n, "x-forwarded-") || strings.HasPrefix(n, "ngrok-") ||
		strings.HasPrefix(n, "x-ngrok") || n == "x-real-ip" || n == "cookie"
}

// placeholder names a masked value for the operator to fill in:
// X-HubSpot-Signature-v3 → <HUBSPOT_SIGNATURE_V3>.
func placeholder(name string) string {
	n := strings.ToUpper(name)
	n = strings.TrimPrefix(n, "X-")
	n = strings.Map(func(r rune) rune {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, n)
	return "<" + n + ">"
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// curlCommand is a command that re-sends the stored request to base (this
// dialhook's address): the method, the headers but the credentials (shown
// as placeholders) and the body as it was kept.
func (c *Console) curlCommand(ev *store.Event, base string) string {
	rq := ev.Request
	target := base + "/webhooks/" + ev.Source
	if _, q, ok := strings.Cut(rq.Path, "?"); ok && q != "" {
		target += "?" + mapQuery(q, placeholder)
	}
	method := rq.Method
	if method == "" {
		method = http.MethodPost
	}
	lines := []string{"curl -sS -X " + method + " " + shellQuote(c.scrub(target))}
	names := make([]string, 0, len(rq.Headers))
	for name := range rq.Headers {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, name := range names {
		if skipForCurl(name) {
			continue
		}
		value := c.scrub(rq.Headers[name])
		if secretName(name) || maskedAlready(rq.Headers[name]) || strings.Contains(value, masked) {
			value = placeholder(name)
		}
		lines = append(lines, "-H "+shellQuote(name+": "+value))
	}
	if rq.Body != "" {
		lines = append(lines, "--data-binary "+shellQuote(c.scrub(rq.Body)))
	}
	return strings.Join(lines, " \\\n  ")
}

// baseURL is where this dialhook is reached: public_base_url (the
// source's own first) when set, else the address the request came to.
func (c *Console) baseURL(r *http.Request, src *SourceInfo) string {
	if src != nil && src.PublicBaseURL != "" {
		return strings.TrimRight(src.PublicBaseURL, "/")
	}
	if c.publicURL != "" {
		return c.publicURL
	}
	scheme := "http"
	// Only shown, never trusted: a tunnel ends TLS and says so.
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
