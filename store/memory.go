package store

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Memory is the embedded store: everything lives in this process and is lost
// when it stops. It is for trying dialhook out, not for production.
type Memory struct {
	mu        sync.Mutex
	events    map[string]*memEvent
	claims    map[string]claim // dedup and cooldown claims
	guids     map[string]string
	due       map[string]time.Time
	agents    map[string]claim
	waiters   map[string]map[string]bool // agent → events waiting for it (Busy)
	queue     chan Delivery
	pending   map[string]pending // ref → delivery in progress
	seq       uint64
	retention time.Duration
	now       func() time.Time
}

type memEvent struct {
	Event
	expires time.Time
}

type claim struct {
	id      string
	expires time.Time
}

type pending struct {
	d        Delivery
	consumer string
	since    time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store whose queue holds queueMax entries.
func NewMemory(retention time.Duration, queueMax int) *Memory {
	if retention <= 0 {
		retention = 30 * 24 * time.Hour
	}
	if queueMax <= 0 {
		queueMax = 100000
	}
	return &Memory{
		events: map[string]*memEvent{}, claims: map[string]claim{}, guids: map[string]string{},
		due: map[string]time.Time{}, agents: map[string]claim{}, waiters: map[string]map[string]bool{}, pending: map[string]pending{},
		queue: make(chan Delivery, queueMax), retention: retention, now: time.Now,
	}
}

func (m *Memory) get(id string) *memEvent {
	e := m.events[id]
	if e == nil || m.now().After(e.expires) {
		return nil
	}
	return e
}

func (m *Memory) held(key string) (claim, bool) {
	c, ok := m.claims[key]
	if !ok || m.now().After(c.expires) {
		return claim{}, false
	}
	return c, true
}

func (m *Memory) enqueue(id string) error {
	m.seq++
	d := Delivery{EventID: id, Ref: strconv.FormatUint(m.seq, 10)}
	select {
	case m.queue <- d:
		return nil
	default:
		return ErrQueueFull
	}
}

func clone(e *Event) *Event {
	c := *e
	c.Fields = cloneMap(e.Fields)
	c.Warnings = append([]string(nil), e.Warnings...)
	c.Redials = append([]Redial(nil), e.Redials...)
	if e.DueAt != nil {
		t := *e.DueAt
		c.DueAt = &t
	}
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Accept implements Store.
func (m *Memory) Accept(ctx context.Context, subs []Submission) ([]Accepted, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Accepted, len(subs))
	for i, s := range subs {
		if s.DedupKey != "" {
			if c, ok := m.held("dedup:" + s.DedupKey); ok {
				if e := m.get(c.id); e != nil {
					e.Duplicates++
					out[i] = Accepted{Event: clone(&e.Event), Duplicate: true}
				} else {
					out[i] = Accepted{Event: &Event{ID: c.id, State: Ignored}, Duplicate: true}
				}
				continue
			}
		}
		e := clone(s.Event)
		if e.State == Queued && len(m.queue) >= cap(m.queue) {
			return nil, ErrQueueFull
		}
		if (e.State == Queued || e.State == Scheduled) && s.CooldownKey != "" && s.CooldownTTL > 0 {
			key := "cool:" + s.CooldownKey
			if _, ok := m.held(key); ok {
				e.State = Suppressed
			} else {
				m.claims[key] = claim{id: e.ID, expires: m.now().Add(s.CooldownTTL)}
			}
		}
		if s.DedupKey != "" {
			m.claims["dedup:"+s.DedupKey] = claim{id: e.ID, expires: m.now().Add(s.DedupTTL)}
		}
		m.events[e.ID] = &memEvent{Event: *e, expires: m.now().Add(m.retention)}
		switch e.State {
		case Queued:
			if err := m.enqueue(e.ID); err != nil {
				return nil, err
			}
		case Scheduled:
			if e.DueAt != nil {
				m.due[e.ID] = *e.DueAt
			}
		}
		out[i] = Accepted{Event: clone(e)}
	}
	return out, nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, id string) (*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.get(id); e != nil {
		return clone(&e.Event), nil
	}
	return nil, ErrNotFound
}

// GetByGUID implements Store.
func (m *Memory) GetByGUID(ctx context.Context, guid string) (*Event, error) {
	m.mu.Lock()
	id, ok := m.guids[strings.ToLower(guid)]
	m.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	return m.Get(ctx, id)
}

// List implements Store.
func (m *Memory) List(ctx context.Context, state State, limit int) ([]*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Event
	for id := range m.events {
		if e := m.get(id); e != nil && e.State == state {
			out = append(out, clone(&e.Event))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ReceivedAt.Equal(out[j].ReceivedAt) {
			return out[i].ReceivedAt.After(out[j].ReceivedAt)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Next implements Store.
func (m *Memory) Next(ctx context.Context, consumer string, block time.Duration) ([]Delivery, error) {
	t := time.NewTimer(block)
	defer t.Stop()
	select {
	case d := <-m.queue:
		m.mu.Lock()
		m.pending[d.Ref] = pending{d: d, consumer: consumer, since: m.now()}
		m.mu.Unlock()
		return []Delivery{d}, nil
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Reclaim implements Store.
func (m *Memory) Reclaim(ctx context.Context, consumer string, idle time.Duration) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	now := m.now()
	for ref, p := range m.pending {
		if now.Sub(p.since) >= idle {
			p.consumer, p.since = consumer, now
			m.pending[ref] = p
			out = append(out, p.d)
		}
	}
	return out, nil
}

func (m *Memory) ack(d Delivery) { delete(m.pending, d.Ref) }

// Begin implements Store.
func (m *Memory) Begin(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (*Event, BeginResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(d.EventID)
	if e == nil {
		m.ack(d)
		return nil, Skip, nil
	}
	switch e.State {
	case Dialing:
		e.State = Unknown
		m.ack(d)
		return clone(&e.Event), Interrupted, nil
	case Queued:
	default:
		m.ack(d)
		return clone(&e.Event), Skip, nil
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
	return clone(&e.Event), Dial, nil
}

// Finish implements Store. It applies out to its own record; ev is not needed.
func (m *Memory) Finish(ctx context.Context, d Delivery, _ *Event, out Outcome, now time.Time) (*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if out.Agent != "" {
		if c, ok := m.agents[out.Agent]; ok && c.id == d.EventID {
			if out.MinGap > 0 {
				m.agents[out.Agent] = claim{id: c.id, expires: now.Add(out.MinGap)}
			} else {
				delete(m.agents, out.Agent)
			}
			// The agent is free once its gap is over: its waiting events are due then.
			at := now.Add(out.MinGap)
			for w := range m.waiters[out.Agent] {
				if due, ok := m.due[w]; ok && due.After(at) {
					m.due[w] = at
				}
			}
			delete(m.waiters, out.Agent)
		}
	}
	m.ack(d)
	e := m.get(d.EventID)
	if e == nil {
		return nil, ErrNotFound
	}
	if e.State != Dialing {
		return clone(&e.Event), ErrConflict
	}
	apply(&e.Event, out, now)
	if e.CallGUID != "" {
		m.guids[e.CallGUID] = e.ID
	}
	if (out.State == Queued || out.State == Scheduled) && !out.DueAt.IsZero() {
		m.due[e.ID] = out.DueAt
	}
	return clone(&e.Event), nil
}

// Promote implements Store.
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
	wall := m.now()
	for id, e := range m.events {
		if wall.After(e.expires) {
			delete(m.events, id)
		}
	}
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
	switch e.State {
	case Unknown, Failed, Rejected:
	default:
		return clone(&e.Event), ErrConflict
	}
	if err := m.enqueue(id); err != nil {
		return nil, err
	}
	e.Redials = append(e.Redials, r)
	e.State, e.UpdatedAt, e.DueAt = Queued, r.At, nil
	return clone(&e.Event), nil
}

// Stats implements Store.
func (m *Memory) Stats(ctx context.Context, now time.Time) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Stats{QueueDepth: int64(len(m.queue) + len(m.pending)), Scheduled: int64(len(m.due)), ByState: map[State]int64{}}
	for _, e := range m.events {
		st.ByState[e.State]++
		if e.State == Queued || e.State == Dialing {
			if age := now.Sub(e.ReceivedAt); age > st.OldestPending {
				st.OldestPending = age
			}
		}
	}
	return st, nil
}

// Ping implements Store.
func (m *Memory) Ping(ctx context.Context) error { return nil }

// Close implements Store.
func (m *Memory) Close() error { return nil }
