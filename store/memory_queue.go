package store

import (
	"context"
	"time"
)

// Next implements Store.
func (m *Memory) Next(ctx context.Context, consumer string, _, count int, block time.Duration) ([]Delivery, error) {
	var d Delivery
	select {
	case d = <-m.queue:
	default:
		t := time.NewTimer(max(block, 0))
		defer t.Stop()
		select {
		case d = <-m.queue:
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := []Delivery{d}
more:
	for len(out) < count {
		select {
		case d = <-m.queue:
			out = append(out, d)
		default:
			break more
		}
	}
	m.mu.Lock()
	for i := range out {
		out[i].Consumer = consumer
		m.pending[out[i].Ref] = pending{d: out[i], consumer: consumer, since: m.now()}
	}
	m.mu.Unlock()
	return out, nil
}

// Reclaim implements Store.
func (m *Memory) Reclaim(ctx context.Context, consumer string, _ int, idle time.Duration) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	now := m.now()
	for ref, p := range m.pending {
		if now.Sub(p.since) >= idle {
			p.consumer, p.since, p.d.Consumer = consumer, now, consumer
			m.pending[ref] = p
			out = append(out, p.d)
		}
	}
	return out, nil
}

func (m *Memory) ack(d Delivery) { delete(m.pending, d.Ref) }

// Keep implements Store.
func (m *Memory) Keep(ctx context.Context, d Delivery) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[d.Ref]
	if !ok || p.consumer != d.Consumer {
		return false, nil
	}
	p.since = m.now()
	m.pending[d.Ref] = p
	return true, nil
}

// Begin implements Store.
func (m *Memory) Begin(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (*Event, BeginResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(d.EventID)
	if e == nil {
		m.ack(d)
		return nil, Skip, nil
	}
	switch {
	case e.State == Dialing && d.Token != "" && e.btoken == d.Token:
		return clone(&e.Event), Dial, nil // this attempt's own Begin, asked again
	case e.State == Dialing:
		e.State = Unknown
		m.ack(d)
		return clone(&e.Event), Interrupted, nil
	case e.State != Queued:
		m.ack(d)
		return clone(&e.Event), Skip, nil
	case e.Enrich != nil:
		return clone(&e.Event), NeedsEnrich, nil
	}
	if agent := e.Params.Agent; agent != "" {
		if c, ok := m.agents[agent]; ok && now.Before(c.expires) && c.id != e.ID {
			due := c.expires
			m.due[e.ID] = due
			if m.waiters[agent] == nil {
				m.waiters[agent] = map[string]bool{}
			}
			m.waiters[agent][e.ID] = true // woken by Finish when the call ends
			m.ack(d)
			r := clone(&e.Event)
			r.DueAt = &due
			return r, Busy, nil
		}
		m.agents[agent] = claim{id: e.ID, expires: now.Add(hold)}
		delete(m.waiters[agent], e.ID)
	}
	e.State = Dialing
	e.Attempts++
	e.btoken = d.Token
	return clone(&e.Event), Dial, nil
}

// Finish implements Store. It applies out to its own record; ev is not needed.
func (m *Memory) Finish(ctx context.Context, d Delivery, _ *Event, out Outcome, now time.Time) (*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if out.Agent != "" {
		m.releaseAgent(out.Agent, d.EventID, out.MinGap, now)
	}
	m.ack(d)
	e := m.get(d.EventID)
	if e == nil {
		return nil, ErrNotFound
	}
	if e.State != Dialing {
		if d.Token != "" && e.ftoken == d.Token {
			return clone(&e.Event), nil // this attempt's own Finish, asked again
		}
		return clone(&e.Event), ErrConflict
	}
	apply(&e.Event, out, now)
	e.ftoken = d.Token
	if e.CallGUID != "" {
		m.guids[e.CallGUID] = e.ID
	}
	if out.State == Placed {
		m.noteAgentCall(e.Params.Agent, e.ID, now)
	}
	m.queueJob(e.ID, notifyTypeOf(out.State))
	if (out.State == Queued || out.State == Scheduled) && !out.DueAt.IsZero() {
		m.due[e.ID] = out.DueAt
	}
	return clone(&e.Event), nil
}

// releaseAgent frees the agent's pacing slot held by id after gap, and makes
// the events waiting for the agent due then.
func (m *Memory) releaseAgent(agent, id string, gap time.Duration, now time.Time) {
	c, ok := m.agents[agent]
	if !ok || c.id != id {
		return
	}
	if gap > 0 {
		m.agents[agent] = claim{id: c.id, expires: now.Add(gap)}
	} else {
		delete(m.agents, agent)
	}
	at := now.Add(gap)
	for w := range m.waiters[agent] {
		if due, ok := m.due[w]; ok && due.After(at) {
			m.due[w] = at
		}
	}
	delete(m.waiters, agent)
}

// Promote implements Store. It also prunes what outlived its time.
func (m *Memory) Promote(ctx context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, t := range m.due {
		if t.After(now) {
			continue
		}
		e := m.get(id)
		if e != nil && (e.State == Scheduled || e.State == Queued) {
			if err := m.enqueue(id); err != nil {
				break // full: try again on the next tick
			}
			e.State = Queued
			n++
		}
		delete(m.due, id)
	}
	m.sweep()
	return n, nil
}

// Redial implements Store.
func (m *Memory) Redial(ctx context.Context, id string, r Redial) (*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(id)
	if e == nil {
		return nil, ErrNotFound
	}
	if err := RedialableEvent(&e.Event); err != nil {
		return clone(&e.Event), err
	}
	if err := m.enqueue(id); err != nil {
		return nil, err
	}
	e.Redials = append(e.Redials, r)
	e.State, e.UpdatedAt, e.DueAt = Queued, r.At, nil
	return clone(&e.Event), nil
}
