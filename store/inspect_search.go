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

// found reports whether e is found by the search q (the in-memory store
// scans; Redis reads its index with queryTerms).
func found(e *Event, q string) bool {
	if e.ID == q || strings.EqualFold(e.CallGUID, q) {
		return true
	}
	terms := searchTerms(e)
	for t, whole := range queryTerms(q) {
		for _, have := range terms {
			if have == t || (!whole && strings.HasPrefix(have, t)) {
				return true
			}
		}
	}
	return false
}
