package store

import "time"

// sweepEvery bounds how often the in-memory store walks everything it holds
// to drop what expired (Promote calls sweep on every tick).
const sweepEvery = 5 * time.Second

// sweep drops records past their retention and claims past their TTL, with
// every index entry that points at them. m.mu is held.
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
}

// remove deletes a record and what points at it: its GUID, its due time,
// and the dedup and cooldown claims it holds. m.mu is held.
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
