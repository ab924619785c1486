package store

import (
	"strings"
	"time"
)

// DefaultInspectRetention is how long a received request is kept when
// inspect.retention is not set.
const DefaultInspectRetention = 72 * time.Hour

// minSuffixDigits: a search of at least this many digits also finds the
// destinations that end with them (a number typed without its country
// code); a shorter one must match all the digits.
const minSuffixDigits = 6

// digitsOf keeps the digits of s: "+598 99 123-456" → "59899123456".
func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// reversed returns s back to front: the search index keeps a destination's
// digits reversed, so that a lexical prefix of it is a suffix of the
// number.
func reversed(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// searchTerms are what an event is found by, besides its id and GUID: its
// destination's digits (reversed), its CRM record id and its dedup key.
// Each is "kind:value".
func searchTerms(e *Event) []string {
	var out []string
	if d := digitsOf(e.Params.Destination); d != "" {
		out = append(out, "d:"+reversed(d))
	}
	if e.RecordID != "" {
		out = append(out, "r:"+e.RecordID)
	}
	if e.DedupKey != "" {
		out = append(out, "k:"+e.DedupKey)
	}
	return out
}

// queryTerms are the index prefixes a search for q reads, each with
// whether it must match whole (else as a prefix).
func queryTerms(q string) map[string]bool {
	out := map[string]bool{"r:" + q: true, "k:" + q: true}
	if d := digitsOf(q); d != "" && len(d) >= len(q)/2 {
		out["d:"+reversed(d)] = len(d) < minSuffixDigits
	}
	return out
}

// query is a search, prepared once for matching many events (the
// in-memory store scans; Redis reads its index with queryTerms).
type query struct {
	q      string
	digits string // the query's digits, when it reads as a number
	whole  bool   // the number must match all its digits
}

func newQuery(q string) query {
	out := query{q: q}
	if d := digitsOf(q); d != "" && len(d) >= len(q)/2 {
		out.digits, out.whole = d, len(d) < minSuffixDigits
	}
	return out
}

// found reports whether e is found by the query, as the Redis index
// would find it; it allocates nothing.
func (qy query) found(e *Event) bool {
	q := qy.q
	if e.ID == q || strings.EqualFold(e.CallGUID, q) || (e.RecordID != "" && e.RecordID == q) || (e.DedupKey != "" && e.DedupKey == q) {
		return true
	}
	return qy.digits != "" && digitsEnd(e.Params.Destination, qy.digits, qy.whole)
}

// digitsEnd reports whether the digits of s end with d (whole: are d).
func digitsEnd(s, d string, whole bool) bool {
	i := len(d) - 1
	j := len(s) - 1
	for ; j >= 0 && i >= 0; j-- {
		c := s[j]
		if c < '0' || c > '9' {
			continue
		}
		if c != d[i] {
			return false
		}
		i--
	}
	if i >= 0 {
		return false
	}
	for ; whole && j >= 0; j-- {
		if s[j] >= '0' && s[j] <= '9' {
			return false
		}
	}
	return true
}
