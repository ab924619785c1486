package crm

import (
	"net/url"

	"dialhook/mapping"
)

// tokenHeader carries the shared token of generic and zoho sources.
const tokenHeader = "X-Dialhook-Token"

type genericAdapter struct{ cfg Config }

func (a *genericAdapter) Kind() string { return "generic" }

// Dialect: a custom sender shows a 422 to whoever built it.
func (a *genericAdapter) Dialect() Dialect { return Dialect{RejectStatus: 422} }

func (a *genericAdapter) Preset() map[string]any { return identityPreset() }

// Authenticate checks the optional shared token (X-Dialhook-Token header or
// token query parameter).
func (a *genericAdapter) Authenticate(r *Request) error {
	if a.cfg.Secret == "" {
		return nil
	}
	return checkToken(a.cfg.Secret, r.Header.Get(tokenHeader), queryValue(r, "token"))
}

func (a *genericAdapter) Parse(r *Request) (*Batch, error) {
	if !jsonObject(r.Body) {
		return nil, malformed("body must be a JSON object")
	}
	ev := newEvent(&a.cfg, r, r.Body, hashHex(r.Body))
	ev.DedupKey = r.Header.Get("Idempotency-Key")
	return &Batch{Events: []mapping.Event{ev}}, nil
}

// checkToken accepts the first non-empty candidate if it equals secret.
func checkToken(secret string, candidates ...string) error {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if !equalConst(c, secret) {
			return authErr("bad token")
		}
		return nil
	}
	return authErr("missing token")
}

func query(r *Request) url.Values {
	if r.URL == nil || r.URL.RawQuery == "" {
		return url.Values{}
	}
	v, _ := url.ParseQuery(r.URL.RawQuery)
	return v
}

func queryValue(r *Request, name string) string { return query(r).Get(name) }
