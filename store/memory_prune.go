package store

import (
	"fmt"
	"slices"
	"time"
)

// MemoryFull is the in-memory store's ErrFull: every record it may keep
// (memory_max_events) is still pending. It names the setting, since the
// process is not out of memory.
type MemoryFull struct{ Max int }

func (e *MemoryFull) Error() string {
	return fmt.Sprintf("the in-memory store holds memory_max_events (%d) events, none of them final yet; raise it or use Redis", e.Max)
}

// Is makes a MemoryFull match ErrFull (and so ErrUnavailable).
func (e *MemoryFull) Is(target error) bool { return target == ErrFull || target == ErrUnavailable }

// sweepEvery bounds how often the in-memory store walks everything it holds
// to drop what expired (Promote calls sweep on every tick).
const sweepEvery = 5 * time.Second

// sweep drops records past their retention with every index entry that
// points at them, and claims past their TTL (a claim may outlive its
// record: see remove). m.mu is held.
func (m *Memory) sweep() {
	now := m.now()
	if now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	for id, e := range m.events {
		if now.After(e.expires) {
			m.remove(id)
		}
	}
	for k, c := range m.claims {
		if now.After(c.expires) {
			delete(m.claims, k)
		}
	}
	for a, c := range m.agents {
		if now.After(c.expires) {
			delete(m.agents, a)
		}
	}
	for a, c := range m.agentLast {
		if now.After(c.expires) || m.events[c.id] == nil {
			delete(m.agentLast, a)
		}
	}
	for a, ws := range m.waiters {
		for id := range ws {
			if m.events[id] == nil {
				delete(ws, id)
			}
		}
		if len(ws) == 0 {
			delete(m.waiters, a)
		}
	}
	m.rules.sweep(now)
	m.inspect.sweep(now)
}

// sweep drops the cap's counts older than its window, and the numbers left
// with none.
func (r *memRules) sweep(now time.Time) {
	for number, seen := range r.caps {
		for k, at := range seen {
			if now.Sub(at) >= r.capPer {
				delete(seen, k)
			}
		}
		if len(seen) == 0 {
			delete(r.caps, number)
		}
	}
}

// activityFor is how long a silent source's activity is kept (as Redis
// expires it).
const activityFor = 48 * time.Hour

// activityWindow is what Activity counts: the last 24 h, by whole hours.
const activityWindow = 24 * time.Hour

// activityFrom is the last hour (hours since the epoch) before the window
// that ends at now: counts of it and earlier hours are not in the window.
func activityFrom(now time.Time) int64 { return now.Add(-activityWindow).Unix() / 3600 }

// sweep drops refusals older than RefusedFor and hourly counts older than
// the 24 h the console shows, and a source's activity activityFor after it
// fell silent.
func (in *memInspect) sweep(now time.Time) {
	for src, list := range in.refused {
		i := 0
		for i < len(list) && now.Sub(list[i].At) > RefusedFor {
			i++
		}
		if i == len(list) {
			delete(in.refused, src)
		} else if i > 0 {
			in.refused[src] = slices.Clone(list[i:])
		}
	}
	from := activityFrom(now)
	for src, a := range in.activity {
		for _, counts := range []map[int64]int{a.accepted, a.refused} {
			for h := range counts {
				if h <= from {
					delete(counts, h)
				}
			}
		}
		if len(a.accepted) == 0 && len(a.refused) == 0 && now.Sub(a.lastAccepted) > activityFor && now.Sub(a.lastRefused) > activityFor {
			delete(in.activity, src)
		}
	}
}

// remove deletes a record and what points at it: its GUID and its due
// time. Its dedup and cooldown claims stay until their own TTL (sweep drops
// them), so a redelivery of an event pruned early (memory_max_events) is
// still a duplicate and never dialed again, as on Redis, where a claim
// outlives the record it names. Only a mapping rejection, never dialed,
// lets its dedup claim go with it: a fixed redelivery is then a new event
// instead of a duplicate of a record that is no longer there to supersede.
// m.mu is held.
func (m *Memory) remove(id string) {
	e := m.events[id]
	if e == nil {
		return
	}
	delete(m.events, id)
	m.order.Remove(e.elem)
	delete(m.due, id)
	if e.CallGUID != "" && m.guids[e.CallGUID] == id {
		delete(m.guids, e.CallGUID)
	}
	if !e.remappable() {
		return
	}
	for _, k := range e.claims {
		if c, ok := m.claims[k]; ok && c.id == id {
			delete(m.claims, k)
		}
	}
}

// makeRoom evicts the oldest final records until a new one fits under
// maxEvents, and reports whether it does. Pending records (queued,
// scheduled, dialing) are never evicted: when only they fill the store, a
// new event is refused (ErrFull) rather than anything being lost. m.mu is
// held.
func (m *Memory) makeRoom() bool {
	if len(m.events) < m.maxEvents {
		return true
	}
	now := m.now()
	for el := m.order.Front(); el != nil && len(m.events) >= m.maxEvents; {
		next := el.Next()
		if e := m.events[el.Value.(string)]; e.State.Final() || now.After(e.expires) {
			m.remove(e.ID)
		}
		el = next
	}
	return len(m.events) < m.maxEvents
}
