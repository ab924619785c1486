package mapping

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The cache answers exactly what NormalizePhone answers: numbers, warnings
// and errors, the first time and every time after.
func TestNormalizePhoneCached(t *testing.T) {
	inputs := []string{"099 123 456", "+598 99 123 456", "59899123456", "2901 2345", "099 12", "not a number", "", "+1 (415) 555-0132", "+598 0 000 0000",
		"01 234 567", "099-CALL-NOW", "+1-800-FLOWERS", "099 123 456 ext. 12", "\u202e654321990", "099\x00123456", "099\xff123456", strings.Repeat("9", 100)}
	for _, opts := range []PhoneOptions{
		{Format: FormatE164, Prefix: "9"},
		{AllowInvalid: true},
		{AllowLetters: true, Format: FormatNational},
		{AllowLetters: true, AllowInvalid: true},
	} {
		m := mustCompile(t, Spec{Region: "UY", Phone: opts})
		for _, raw := range inputs {
			wn, ww, werr := NormalizePhone(raw, "UY", opts)
			for i := range 2 {
				n, w, err := m.normalizePhone(raw)
				if n != wn || w != ww || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
					t.Errorf("%+v %q (call %d) = %q, %q, %v; NormalizePhone = %q, %q, %v", opts, raw, i, n, w, err, wn, ww, werr)
				}
			}
		}
		m.phones.mu.RLock()
		for k := range m.phones.m {
			if len(k) > maxPhoneInput {
				t.Errorf("cache keeps a %d-byte input", len(k))
			}
		}
		m.phones.mu.RUnlock()
	}
}

func TestPhoneCacheBoundedAndConcurrent(t *testing.T) {
	m := mustCompile(t, Spec{Region: "UY"})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range phoneCacheMax + 100 {
				raw := "099 " + strconv.Itoa(100000+(i*7+g)%900000)
				if n, _, err := m.normalizePhone(raw); err != nil || n == "" {
					t.Errorf("%q: %q, %v", raw, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	m.phones.mu.RLock()
	size := len(m.phones.m)
	m.phones.mu.RUnlock()
	if size > phoneCacheMax {
		t.Errorf("cache holds %d entries, more than %d", size, phoneCacheMax)
	}
}

// MapParams is Map without Decisions: everything else is the same.
func TestMapParamsIsMapWithoutDecisions(t *testing.T) {
	specs := map[string]Spec{
		"bench":   benchSpec(),
		"when":    func() Spec { s := benchSpec(); s.When = `properties.lifecyclestage.value == "lead"`; return s }(),
		"ignored": func() Spec { s := benchSpec(); s.When = `properties.lifecyclestage.value == "customer"`; return s }(),
		"failing": func() Spec { s := benchSpec(); s.Agents = Agents{}; s.Defaults.CallerID = ""; return s }(),
		// Fails on the strict checks: a caller id read from a whole JSON
		// number that is too short, an agent's phone with letters.
		"strict": func() Spec {
			s := benchSpec()
			s.Rules = map[string]any{"callerid": "vid", "phone": "properties.firstname.value", "context": "form-submissions"}
			return s
		}(),
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			m := mustCompile(t, spec)
			ev := hubspotEvent(t)
			want, werr := m.Map(ev)
			if (name == "failing" || name == "strict") != (werr != nil) || (name == "ignored") == want.Matched {
				t.Fatalf("spec %s: Map = %+v, %v: not the case this test means", name, want, werr)
			}
			for range 2 { // uncached, then cached
				got, err := m.MapParams(ev)
				if got.Decisions != nil {
					t.Errorf("Decisions = %q, want nil", got.Decisions)
				}
				w := *want
				w.Decisions = nil
				if !reflect.DeepEqual(*got, w) || !reflect.DeepEqual(err, werr) {
					t.Errorf("MapParams = %+v, %v\nMap       = %+v, %v", *got, err, w, werr)
				}
			}
		})
	}
}
