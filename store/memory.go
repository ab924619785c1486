package store

import (
	"cmp"
	"container/heap"
	"container/list"
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Memory is the embedded store: everything lives in this process and is lost
// when it stops. It is for trying dialhook out, not for production.
//
// It is bounded: records, claims and indexes are pruned when they outlive
// their retention or dedup window, and at most MaxEvents records are kept
// (the oldest final ones go first; their claims stay until their own TTL;
// see memory_prune.go).
type Memory struct {
	mu        sync.Mutex
	events    map[string]*memEvent
	order     *list.List       // event ids, oldest first (for the cap)
	claims    map[string]claim // dedup and cooldown claims
	guids     map[string]string
	due       map[string]time.Time
	agents    map[string]claim
	waiters   map[string]map[string]bool // agent → events waiting for it (Busy)
	queue     chan Delivery
	pending   map[string]pending // ref → delivery in progress
	seq       uint64
	retention time.Duration
	maxEvents int
	lastSweep time.Time
	now       func() time.Time
	inspect   memInspect
	// agentLast: each agent's last placed call, for AgentRingNoAnswer,
	// kept for matchWindow (0: not kept).
	agentLast   map[string]claim
	matchWindow time.Duration
	notes       memNotify
	rules       memRules
}

type memEvent struct {
	Event
	expires time.Time
	elem    *list.Element // in Memory.order
	btoken  string        // Delivery.Token of the attempt that began dialing it last
	ftoken  string        // Delivery.Token of the attempt that finished it last
	claims  []string      // the claim keys it took (see remove)
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

// MemoryOptions tune the in-memory store; zero values take the defaults.
type MemoryOptions struct {
	Retention time.Duration    // how long records live (default 30 days)
	QueueMax  int              // queue entries at most (default 100000)
	MaxEvents int              // records kept at most (default 100000)
	Now       func() time.Time // the clock (default time.Now)
	// InspectRetention is how long an event's received request is kept
	// (default 72 h, at most Retention).
	InspectRetention time.Duration
	// MatchWindow is how long an agent's last placed call can be matched
	// by an AgentRingNoAnswer (0: never; ucontact_events.match_window).
	MatchWindow time.Duration
	// Notify queues a notification job with every state change a notify
	// endpoint may want.
	Notify bool
}

// NewMemory returns an empty in-memory store.
func NewMemory(o MemoryOptions) *Memory {
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.QueueMax <= 0 {
		o.QueueMax = 100000
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 100000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{
		events: map[string]*memEvent{}, order: list.New(), claims: map[string]claim{}, guids: map[string]string{},
		due: map[string]time.Time{}, agents: map[string]claim{}, waiters: map[string]map[string]bool{}, pending: map[string]pending{},
		queue: make(chan Delivery, o.QueueMax), retention: o.Retention, maxEvents: o.MaxEvents, now: o.Now,
		inspect:   newMemInspect(min(cmp.Or(o.InspectRetention, DefaultInspectRetention), o.Retention)),
		agentLast: map[string]claim{}, matchWindow: o.MatchWindow,
		notes: memNotify{on: o.Notify, pending: map[string]Job{}, since: map[string]time.Time{}, disabled: map[string]bool{}},
		rules: memRules{dnc: map[string]DNCEntry{}, caps: map[string]map[string]time.Time{}},
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
	c.History = append([]Attempt(nil), e.History...)
	c.Notifications = append([]NotifyAttempt(nil), e.Notifications...)
	if e.Call != nil {
		call := *e.Call // its maps are replaced, never changed in place
		c.Call = &call
	}
	if e.LastDuplicateAt != nil {
		t := *e.LastDuplicateAt
		c.LastDuplicateAt = &t
	}
	if e.Request != nil {
		r := *e.Request
		r.Headers = cloneMap(e.Request.Headers)
		c.Request = &r
	}
	if e.DueAt != nil {
		t := *e.DueAt
		c.DueAt = &t
	}
	if e.Enrich != nil {
		en := *e.Enrich
		c.Enrich = &en
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
		a, err := m.accept(s)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// accept is one submission of Accept; m.mu is held.
func (m *Memory) accept(s Submission) (Accepted, error) {
	if e := m.get(s.Event.ID); e != nil {
		return Accepted{Event: clone(&e.Event)}, nil // asked again: same answer
	}
	var supersedes *memEvent
	if s.DedupKey != "" {
		if c, ok := m.held("dedup:" + s.DedupKey); ok {
			old := m.get(c.id)
			switch {
			case old == nil:
				// The record is gone (pruned) but the claim lives on: still a duplicate.
				return Accepted{Event: &Event{ID: c.id, State: Gone}, Duplicate: true}, nil
			case !old.remappable() || s.Event.remappable():
				old.Duplicates++
				at := m.now()
				old.LastDuplicateAt = &at
				return Accepted{Event: clone(&old.Event), Duplicate: true}, nil
			}
			supersedes = old
		}
	}
	m.applyRules(&s)
	e := clone(s.Event)
	if e.State == Queued && len(m.queue) >= cap(m.queue) {
		return Accepted{}, ErrQueueFull
	}
	if !m.makeRoom() {
		return Accepted{}, &MemoryFull{Max: m.maxEvents}
	}
	me := &memEvent{expires: m.now().Add(m.retention)}
	if (e.State == Queued || e.State == Scheduled) && s.CooldownKey != "" && s.CooldownTTL > 0 {
		key := "cool:" + s.CooldownKey
		if _, ok := m.held(key); ok {
			e.State = Suppressed
		} else {
			m.claims[key] = claim{id: e.ID, expires: m.now().Add(s.CooldownTTL)}
			me.claims = append(me.claims, key)
		}
	}
	if supersedes != nil {
		e.Supersedes = supersedes.ID
		supersedes.SupersededBy = e.ID
	}
	if s.DedupKey != "" {
		m.claims["dedup:"+s.DedupKey] = claim{id: e.ID, expires: m.now().Add(s.DedupTTL)}
		me.claims = append(me.claims, "dedup:"+s.DedupKey)
	}
	me.Event = *e
	me.elem = m.order.PushBack(e.ID)
	m.events[e.ID] = me
	switch e.State {
	case Queued:
		if err := m.enqueue(e.ID); err != nil {
			return Accepted{}, err
		}
	case Scheduled:
		if e.DueAt != nil {
			m.due[e.ID] = *e.DueAt
		}
	}
	return Accepted{Event: clone(e)}, nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, id string) (*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.get(id); e != nil {
		return m.shown(e), nil
	}
	return nil, ErrNotFound
}

// Lookup implements Store.
func (m *Memory) Lookup(ctx context.Context, dedupKey string) (*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.held("dedup:" + dedupKey)
	if !ok {
		return nil, ErrNotFound
	}
	if e := m.get(c.id); e != nil {
		return clone(&e.Event), nil
	}
	return &Event{ID: c.id, State: Gone}, nil
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

// List implements Store: the newest Limit+1 matching events are kept in a
// heap while every record is read once (no sort of the whole store, no
// copy but of the page).
func (m *Memory) List(ctx context.Context, q ListQuery) (Page, error) {
	c, err := parseCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := max(q.Limit, 0) + 1
	h := &newestHeap{}
	now := m.now()
	for id, e := range m.events {
		if now.After(e.expires) || !q.matches(&e.Event) {
			continue
		}
		k := listKey{ms: ms(e.ReceivedAt), id: id, e: e}
		if !c.before(k.ms, k.id) {
			continue
		}
		if h.Len() < keep {
			heap.Push(h, k)
		} else if (*h)[0].less(k) {
			(*h)[0] = k
			heap.Fix(h, 0)
		}
	}
	keys := make([]listKey, h.Len())
	for i := len(keys) - 1; i >= 0; i-- {
		keys[i] = heap.Pop(h).(listKey) // oldest of the kept first: fill from the end
	}
	out := make([]*Event, 0, min(len(keys), q.Limit))
	for _, k := range keys[:min(len(keys), q.Limit)] {
		ev := clone(&k.e.Event)
		ev.Request, ev.Notifications = nil, nil // as Redis: a listing reads neither
		out = append(out, ev)
	}
	if len(keys) <= q.Limit {
		return Page{Events: out}, nil
	}
	last := keys[q.Limit-1]
	return Page{Events: out, Next: cursor{ms: last.ms, id: last.id}.String()}, nil
}

// listKey orders events in a listing: newest first, then by id descending.
type listKey struct {
	ms int64
	id string
	e  *memEvent
}

// less reports whether a comes after b in a listing (is older).
func (a listKey) less(b listKey) bool { return a.ms < b.ms || (a.ms == b.ms && a.id < b.id) }

// newestHeap is a min-heap of listKeys: its root is the oldest kept.
type newestHeap []listKey

func (h newestHeap) Len() int           { return len(h) }
func (h newestHeap) Less(i, j int) bool { return h[i].less(h[j]) }
func (h newestHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newestHeap) Push(x any)        { *h = append(*h, x.(listKey)) }
func (h *newestHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// NewEventID implements Store.
func (m *Memory) NewEventID(string) string { return uuid.NewString() }

// Shards implements Store: one queue.
func (m *Memory) Shards() int { return 1 }

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

// Ready implements Store: the in-memory store is full when every record it
// may keep is still pending (nothing final can make room).
func (m *Memory) Ready(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.events) >= m.maxEvents && !m.makeRoom() {
		return &MemoryFull{Max: m.maxEvents}
	}
	return nil
}

// Check implements Store.
func (m *Memory) Check(ctx context.Context) []string { return nil }

// Close implements Store.
func (m *Memory) Close() error { return nil }
