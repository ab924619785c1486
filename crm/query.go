package crm

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
)

// ownParam reports whether a URL query parameter is read by dialhook's
// handler itself (?wait=, ?dry_run=). Like credentials, such parameters say
// nothing about the event, so they stay out of records and of every
// body-derived hash: a dry run, a wait or a rotated token must not make a
// redelivery look like a new event.
func ownParam(k string) bool { return k == "wait" || k == "dry_run" }

// tokenParam is the credential parameter of generic and zoho sources.
func tokenParam(k string) bool { return k == "token" }

func query(r *Request) url.Values {
	if r.URL == nil || r.URL.RawQuery == "" {
		return url.Values{}
	}
	v, _ := url.ParseQuery(r.URL.RawQuery)
	return v
}

func queryValue(r *Request, name string) string { return query(r).Get(name) }

// recordParams returns the URL query parameters that belong to the record
// (generic and zoho read them as fields): all but ?wait=, ?dry_run= and
// ?token=, first value of each.
func recordParams(r *Request) map[string]string {
	q := query(r)
	out := make(map[string]string, len(q))
	for k, vs := range q {
		if ownParam(k) || tokenParam(k) || len(vs) == 0 {
			continue
		}
		out[k] = vs[0]
	}
	return out
}

// canonicalQuery encodes the request's query parameters, minus dialhook's
// own and those credential reports (nil: none), with keys and each key's values
// sorted: the same parameters in another order encode the same. A query
// that does not parse is kept verbatim, so that it still tells requests
// apart.
func canonicalQuery(r *Request, credential func(string) bool) string {
	if r.URL == nil || r.URL.RawQuery == "" {
		return ""
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "raw:" + r.URL.RawQuery
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		if !ownParam(k) && (credential == nil || !credential(k)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// bodyHash is every event's BodyHash (what $body_hash and the last-resort
// dedup key use): hex SHA-256 over part, the body or the part of it the
// event came from, and the URL query parameters in canonical form. The same
// body posted to ?lead=1 and to ?lead=2 is two events; the same parameters
// in another order are one. credential reports the parameters that carry
// the source's credentials (?token=, the dynamics ?code= and auth_query
// keys), also left out; only those of the source's own kind, so that a
// ?code= sent to a generic source still tells events apart.
//
// Without parameters the hash is that of part alone, as before query
// parameters counted, so an upgrade does not make in-flight redeliveries
// look new. With parameters a framing prefix and a NUL separate the
// (escaped, hence NUL-free) query from part.
func bodyHash(r *Request, part []byte, credential func(string) bool) string {
	canon := canonicalQuery(r, credential)
	if canon == "" {
		return hashHex(part)
	}
	h := sha256.New()
	h.Write([]byte("dialhook-query\x00"))
	h.Write([]byte(canon))
	h.Write([]byte{0})
	h.Write(part)
	return hex.EncodeToString(h.Sum(nil))
}
