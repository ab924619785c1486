package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

var _ DNC = (*Memory)(nil)

// memRules are the in-memory store's calling rules; Memory.mu guards them.
type memRules struct {
	dnc  map[string]DNCEntry
	caps map[string]map[string]time.Time // number → dedup key (or event id) → when counted
	// capPer is the longest cap window counted with, for sweep.
	capPer time.Duration
}

// applyRules turns a dialable submission Blocked or Capped. m.mu is held.
func (m *Memory) applyRules(s *Submission) {
	if s.AddDNC && s.Destination != "" {
		if _, ok := m.rules.dnc[s.Destination]; !ok {
			m.rules.dnc[s.Destination] = dncEntryOf(s)
		}
	}
	if !dialable(s) {
		return
	}
	if e, ok := m.rules.dnc[s.Destination]; ok {
		ruleChecked(s, &e, false)
		return
	}
	if c := s.Cap; c != nil && c.Max > 0 {
		ruleChecked(s, nil, !m.countAttempt(s, *c))
	}
}

// countAttempt counts s against its number's cap; false when the cap is
// reached. A redelivery (same dedup key) is not counted twice.
func (m *Memory) countAttempt(s *Submission, c CapRule) bool {
	now := m.now()
	m.rules.capPer = max(m.rules.capPer, c.Per)
	seen := m.rules.caps[s.Destination]
	if seen == nil {
		seen = map[string]time.Time{}
		m.rules.caps[s.Destination] = seen
	}
	for k, at := range seen {
		if now.Sub(at) >= c.Per {
			delete(seen, k)
		}
	}
	key := cmp.Or(s.DedupKey, s.Event.ID)
	if _, ok := seen[key]; ok {
		return true
	}
	if len(seen) >= c.Max {
		return false
	}
	seen[key] = now
	return true
}

// DNCAdd implements DNC.
func (m *Memory) DNCAdd(ctx context.Context, entries []DNCEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		if _, ok := m.rules.dnc[e.Number]; !ok && e.Number != "" {
			m.rules.dnc[e.Number] = e
		}
	}
	return nil
}

// DNCRemove implements DNC.
func (m *Memory) DNCRemove(ctx context.Context, number string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.rules.dnc[number]
	delete(m.rules.dnc, number)
	return ok, nil
}

// DNCGet implements DNC.
func (m *Memory) DNCGet(ctx context.Context, number string) (*DNCEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.rules.dnc[number]; ok {
		return &e, nil
	}
	return nil, ErrNotFound
}

// DNCList implements DNC.
func (m *Memory) DNCList(ctx context.Context, prefix, after string, limit int) ([]DNCEntry, string, error) {
	m.mu.Lock()
	var nums []string
	for n := range m.rules.dnc {
		if strings.HasPrefix(n, prefix) && n > after {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	out := make([]DNCEntry, 0, min(len(nums), limit))
	for _, n := range nums[:min(len(nums), limit)] {
		out = append(out, m.rules.dnc[n])
	}
	m.mu.Unlock()
	if len(nums) > limit && limit > 0 {
		return out, out[len(out)-1].Number, nil
	}
	return out, "", nil
}

// Listed answers the do-not-call entry of a number right before its call
// (nil when not listed).
func (m *Memory) Listed(ctx context.Context, number string) (*DNCEntry, error) {
	e, err := m.DNCGet(ctx, number)
	if err != nil {
		return nil, nil //nolint:nilerr // not listed
	}
	return e, nil
}
