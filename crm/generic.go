package crm

import "dialhook/mapping"

// tokenHeader carries the shared token of generic and zoho sources.
const tokenHeader = "X-Dialhook-Token"

type genericAdapter struct{ base }

// newGeneric: the shared token is optional. A custom sender shows a 422 (a
// mapping rejection) to whoever built it.
func newGeneric(cfg Config, _ bool, _ problemf) Adapter {
	return &genericAdapter{base{cfg, Dialect{RejectStatus: 422}}}
}

func (a *genericAdapter) Preset() map[string]any { return identityPreset() }

// Authenticate checks the optional shared token (X-Dialhook-Token header or
// token query parameter).
func (a *genericAdapter) Authenticate(r *Request) error {
	if a.cfg.Secret == "" {
		return nil
	}
	return checkToken(a.cfg.Secret, r.Header.Get(tokenHeader), queryValue(r, "token"))
}

// Scheme implements Adapter.
func (a *genericAdapter) Scheme(*Request) string { return "shared token (X-Dialhook-Token or ?token=)" }

func (a *genericAdapter) Parse(r *Request) (*Batch, error) {
	if err := checkJSON(r.Body, "object"); err != nil {
		return nil, err
	}
	// URL query parameters are fields too (a sender that puts the lead id
	// in the URL); the body wins where both name the same field.
	rec, err := withParams(r.Body, recordParams(r))
	if err != nil {
		return nil, malformed("body cannot be combined with the URL parameters")
	}
	ev := newEvent(&a.cfg, r, rec, bodyHash(r, r.Body, tokenParam))
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
