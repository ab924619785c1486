package intake

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"dialhook/crm"
	"dialhook/store"
)

// Masked replaces a secret in a captured request.
const Masked = "***"

// secretHeaderWords: a header whose lower-case name contains one of these
// carries a credential (Authorization, X-HubSpot-Signature-V3,
// X-Pipedrive-Signature, Cookie, X-Api-Key, X-Dialhook-Token, …).
var secretHeaderWords = []string{"authorization", "signature", "token", "secret", "cookie", "api-key", "apikey", "password", "x-hub-"}

// secretQueryNames are query parameters that carry a credential: Dynamics'
// WebhookKey (?code=), tokens and keys.
var secretQueryNames = []string{"code", "token", "key", "secret", "signature", "sig", "apikey", "api_key", "access_token", "password"}

// Capture is the request as received, for the console, with every
// credential masked: headers and query parameters by name, and any value
// (or body text) holding one of the source's configured secrets. The body
// is kept up to maxBody bytes.
func Capture(src *Source, req *crm.Request, maxBody int) *store.Request {
	out := &store.Request{Method: req.Method, Size: len(req.Body), Headers: make(map[string]string, len(req.Header))}
	for name, vals := range req.Header {
		v := strings.Join(vals, ", ")
		if secretHeader(name) || src.holdsSecret(v) {
			v = Masked
		}
		out.Headers[name] = v
	}
	if req.URL != nil {
		out.Path = req.URL.EscapedPath()
		if q := maskQuery(src, req.URL.RawQuery); q != "" {
			out.Path += "?" + q
		}
	}
	body := req.Body
	if maxBody >= 0 && len(body) > maxBody {
		body, out.Truncated = body[:maxBody], true
	}
	text := string(body)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	out.Body = src.maskSecrets(text)
	return out
}

func secretHeader(name string) bool {
	for _, w := range secretHeaderWords {
		if containsFold(name, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII word w,
// ignoring case, without allocating.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// maskQuery masks the values of credential parameters; a query that does
// not parse is kept only as far as it holds no secret.
func maskQuery(src *Source, raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return src.maskSecrets(raw)
	}
	for name, vals := range q {
		for i, v := range vals {
			if slices.Contains(secretQueryNames, strings.ToLower(name)) || src.holdsSecret(v) {
				vals[i] = Masked
			}
		}
	}
	return strings.ReplaceAll(q.Encode(), url.QueryEscape(Masked), Masked)
}

// holdsSecret reports whether v contains one of the source's secrets.
func (src *Source) holdsSecret(v string) bool {
	for _, s := range src.Secrets {
		if s != "" && strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// maskSecrets replaces every occurrence of the source's secrets in v.
func (src *Source) maskSecrets(v string) string {
	for _, s := range src.Secrets {
		if s != "" {
			v = strings.ReplaceAll(v, s, Masked)
		}
	}
	return v
}
