package store

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"
)

// memInspect is the in-memory store's console data; Memory.mu guards it.
type memInspect struct {
	retention time.Duration           // of received requests
	refused   map[string][]Refusal    // per source, oldest first, at most RefusedMax
	activity  map[string]*memActivity // per source
}

// memActivity counts a source's traffic per hour.
type memActivity struct {
	accepted, refused map[int64]int // hour (unix) → count
	lastAccepted      time.Time
	lastRefused       time.Time
}

func newMemInspect(retention time.Duration) memInspect {
	return memInspect{retention: retention, refused: map[string][]Refusal{}, activity: map[string]*memActivity{}}
}

var _ Inspector = (*Memory)(nil)

// Search implements Inspector: the in-memory store scans its records.
func (m *Memory) Search(ctx context.Context, q string, limit int) ([]*Event, error) {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Event
	qy, now := newQuery(q), m.now()
	for _, e := range m.events {
		if !now.After(e.expires) && qy.found(&e.Event) {
			out = append(out, m.shown(e))
		}
	}
	sortNewest(out)
	return out[:min(len(out), limit)], nil
}

// sortNewest orders events newest first (received time, then id).
func sortNewest(evs []*Event) {
	sort.Slice(evs, func(i, j int) bool {
		if a, b := ms(evs[i].ReceivedAt), ms(evs[j].ReceivedAt); a != b {
			return a > b
		}
		return evs[i].ID > evs[j].ID
	})
}

// shown is a copy of e for a reader: its request only within the inspect
// retention. m.mu is held.
func (m *Memory) shown(e *memEvent) *Event {
	c := clone(&e.Event)
	if c.Request != nil && m.now().Sub(c.ReceivedAt) > m.inspect.retention {
		c.Request = nil
	}
	return c
}

// Record implements Inspector.
func (m *Memory) Record(ctx context.Context, a Activity) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	hour := a.At.Unix() / 3600
	for src, n := range a.Accepted {
		act := m.inspect.source(src)
		act.accepted[hour] += n
		act.lastAccepted = a.At
	}
	for _, r := range a.Refusals {
		act := m.inspect.source(r.Source)
		act.refused[r.At.Unix()/3600]++
		if r.At.After(act.lastRefused) {
			act.lastRefused = r.At
		}
		list := append(m.inspect.refused[r.Source], r)
		m.inspect.refused[r.Source] = list[max(0, len(list)-RefusedMax):]
	}
	return nil
}

func (in *memInspect) source(name string) *memActivity {
	a := in.activity[name]
	if a == nil {
		a = &memActivity{accepted: map[int64]int{}, refused: map[int64]int{}}
		in.activity[name] = a
	}
	return a
}

// Refused implements Inspector.
func (m *Memory) Refused(ctx context.Context, source string, limit int) ([]Refusal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cut := m.now().Add(-RefusedFor)
	var out []Refusal
	for src, list := range m.inspect.refused {
		if source != "" && src != source {
			continue
		}
		for _, r := range list {
			if r.At.After(cut) {
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Refusal) int { return b.At.Compare(a.At) })
	return out[:min(len(out), max(limit, 0))], nil
}

// Activity implements Inspector.
func (m *Memory) Activity(ctx context.Context, sources []string, now time.Time) (map[string]SourceActivity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]SourceActivity, len(sources))
	from := activityFrom(now)
	for _, src := range sources {
		a := m.inspect.activity[src]
		if a == nil {
			out[src] = SourceActivity{}
			continue
		}
		sa := SourceActivity{LastAccepted: a.lastAccepted, LastRefused: a.lastRefused}
		for h, n := range a.accepted {
			if h > from {
				sa.Accepted += n
			} else {
				delete(a.accepted, h)
			}
		}
		for h, n := range a.refused {
			if h > from {
				sa.Refused += n
			} else {
				delete(a.refused, h)
			}
		}
		out[src] = sa
	}
	return out, nil
}

// Health implements Inspector: the in-memory store is always there, and
// this process is its only reader.
func (m *Memory) Health(ctx context.Context) Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := Health{Kind: "memory", Reachable: true}
	seen := map[string]*Consumer{}
	for _, p := range m.pending {
		c := seen[p.consumer]
		if c == nil {
			c = &Consumer{Name: p.consumer, Shards: 1, LastSeen: p.since}
			seen[p.consumer] = c
		}
		c.Pending++
		if p.since.After(c.LastSeen) {
			c.LastSeen = p.since
		}
	}
	for _, c := range seen {
		c.Idle = m.now().Sub(c.LastSeen)
		h.Consumers = append(h.Consumers, *c)
	}
	slices.SortFunc(h.Consumers, func(a, b Consumer) int { return strings.Compare(a.Name, b.Name) })
	return h
}
