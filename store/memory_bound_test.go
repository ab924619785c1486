package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/ucontact"
)

// clock is a settable time for the in-memory store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func memEventAt(now time.Time, state State, dest string) *Event {
	return &Event{ID: uuid.NewString(), Source: "generic", Kind: "generic", DedupKey: uuid.NewString(), ReceivedAt: now, UpdatedAt: now,
		State: state, Params: ucontact.Params{Agent: "a", Destination: dest}}
}

// sizes is everything the in-memory store holds, by kind.
func (m *Memory) sizes() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("events %d order %d claims %d guids %d due %d agents %d waiters %d caps %d agentLast %d refused %d activity %d",
		len(m.events), m.order.Len(), len(m.claims), len(m.guids), len(m.due), len(m.agents), len(m.waiters),
		len(m.rules.caps), len(m.agentLast), len(m.inspect.refused), len(m.inspect.activity))
}

// Everything the embedded store holds goes when its time is over: records
// after retention with their GUIDs and claims, claims after their TTL, the
// per-destination cap's counts after its window, each agent's last call
// after the match window, and the console's refusals and activity after
// theirs.
func TestMemoryPrunesExpired(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	m := NewMemory(MemoryOptions{Retention: time.Hour, QueueMax: 1000, MaxEvents: 1000, Now: c.now, MatchWindow: 2 * time.Hour})
	ctx := context.Background()
	for i := range 200 {
		e := memEventAt(c.now(), Queued, fmt.Sprint("5989912", i))
		e.Params.Agent = fmt.Sprint("a", i)
		if _, err := m.Accept(ctx, []Submission{{Event: e, DedupKey: "generic:" + e.DedupKey, DedupTTL: 30 * time.Minute,
			CooldownKey: "generic:" + e.Params.Destination, CooldownTTL: 10 * time.Minute,
			Destination: e.Params.Destination, Cap: &CapRule{Max: 3, Per: 30 * time.Minute}}}); err != nil {
			t.Fatal(err)
		}
		src := fmt.Sprint("src", i)
		if err := m.Record(ctx, Activity{At: c.now(), Accepted: map[string]int{src: 1},
			Refusals: []Refusal{{At: c.now(), Source: src, Status: 401}}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.sizes(); !strings.Contains(got, "caps 200 agentLast 0 refused 200 activity 200") {
		t.Fatalf("after 200 events the store holds %s", got)
	}
	for range 200 { // dial them all, so GUIDs and agent slots exist
		ds, _ := m.Next(ctx, "c", 0, 1, time.Millisecond)
		d := ds[0]
		d.Token = "t"
		ev, res, err := m.Begin(ctx, d, time.Minute, c.now())
		if err != nil || res != Dial {
			t.Fatal(res, err)
		}
		if _, err := m.Finish(ctx, d, nil, Outcome{State: Placed, CallGUID: uuid.NewString(), Agent: ev.Params.Agent, MinGap: time.Second}, c.now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.sizes(); !strings.Contains(got, "caps 200 agentLast 200") {
		t.Fatalf("after 200 calls the store holds %s", got)
	}
	c.add(2 * time.Hour)
	if _, err := m.Promote(ctx, c.now()); err != nil {
		t.Fatal(err)
	}
	if got, want := m.sizes(), "events 0 order 0 claims 0 guids 0 due 0 agents 0 waiters 0 caps 0 agentLast 0 refused 200 activity 200"; got != want {
		t.Fatalf("after retention the store holds %s, want %s", got, want)
	}
	c.add(RefusedFor)
	if _, err := m.Promote(ctx, c.now()); err != nil {
		t.Fatal(err)
	}
	if got, want := m.sizes(), "events 0 order 0 claims 0 guids 0 due 0 agents 0 waiters 0 caps 0 agentLast 0 refused 0 activity 0"; got != want {
		t.Fatalf("after the console's retention the store holds %s, want %s", got, want)
	}
}

// At memory_max_events the oldest final records (with their GUIDs; their
// claims stay until their TTL) make room; pending ones are never evicted: when only they fill
// the store, a new event is refused with ErrFull and Ready says so.
func TestMemoryCap(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	m := NewMemory(MemoryOptions{Retention: time.Hour, QueueMax: 100, MaxEvents: 10, Now: c.now})
	ctx := context.Background()
	accept := func(e *Event) error {
		_, err := m.Accept(ctx, []Submission{{Event: e, DedupKey: "generic:" + e.DedupKey, DedupTTL: time.Hour}})
		return err
	}
	var first *Event
	for i := range 1000 {
		e := memEventAt(c.now(), Ignored, "")
		if i == 0 {
			first = e
		}
		if err := accept(e); err != nil {
			t.Fatal(i, err)
		}
	}
	// The evicted records' dedup claims stay for their dedup window.
	if got, want := m.sizes(), "events 10 order 10 claims 1000 guids 0 due 0 agents 0 waiters 0 caps 0 agentLast 0 refused 0 activity 0"; got != want {
		t.Fatalf("after 1000 final events the store holds %s, want %s", got, want)
	}
	if _, err := m.Get(ctx, first.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the oldest final event is still there: %v", err)
	}
	for i := range 10 {
		if err := accept(memEventAt(c.now(), Queued, "59899123456")); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := accept(memEventAt(c.now(), Queued, "59899123456")); !errors.Is(err, ErrFull) {
		t.Fatalf("accept with only pending events held: %v, want ErrFull", err)
	}
	if err := m.Ready(ctx); !errors.Is(err, ErrFull) {
		t.Fatalf("ready: %v", err)
	}
}

// placeAll dials every queued event to placed.
func placeAll(t *testing.T, m *Memory, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for {
		ds, _ := m.Next(ctx, "c", 0, 1, time.Millisecond)
		if len(ds) == 0 {
			return
		}
		d := ds[0]
		d.Token = "t"
		if _, res, err := m.Begin(ctx, d, time.Minute, now); err != nil || res != Dial {
			t.Fatal(res, err)
		}
		if _, err := m.Finish(ctx, d, nil, Outcome{State: Placed, CallGUID: uuid.NewString()}, now); err != nil {
			t.Fatal(err)
		}
	}
}

// An event evicted by memory_max_events keeps its dedup claim for the dedup
// window: its redelivery is a duplicate (of a record that is gone, answered
// as Redis answers one past retention) and is not queued again. Once the
// window is over the claim is swept and the event is new again. A mapping
// rejection, never dialed, does not keep its claim: its fix is a new event.
func TestMemoryCapKeepsClaims(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	m := NewMemory(MemoryOptions{Retention: 48 * time.Hour, QueueMax: 100, MaxEvents: 3, Now: c.now})
	ctx := context.Background()
	accept := func(key string, e *Event) Accepted {
		t.Helper()
		as, err := m.Accept(ctx, []Submission{{Event: e, DedupKey: key, DedupTTL: 24 * time.Hour}})
		if err != nil {
			t.Fatal(key, err)
		}
		return as[0]
	}
	rej := memEventAt(c.now(), Rejected, "")
	rej.ErrorKind = MappingFailed
	accept("generic:r1", rej)
	var p1 *Event
	for i := 1; i <= 5; i++ {
		e := memEventAt(c.now(), Queued, "59899123456")
		e.Params.Agent = fmt.Sprint("a", i) // no agent waits for another
		if i == 1 {
			p1 = e
		}
		accept(fmt.Sprint("generic:p", i), e)
		placeAll(t, m, c.now())
	}
	if _, err := m.Get(ctx, p1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("p1 was not evicted: %v", err)
	}
	a := accept("generic:p1", memEventAt(c.now(), Queued, "59899123456"))
	if !a.Duplicate || a.Event.ID != p1.ID || a.Event.State != Gone {
		t.Fatalf("p1 redelivered after eviction: duplicate %v of %s (%s), want a duplicate of %s (gone)", a.Duplicate, a.Event.ID, a.Event.State, p1.ID)
	}
	if n := len(m.queue); n != 0 {
		t.Fatalf("p1's redelivery was queued (%d entries)", n)
	}
	if ev, err := m.Lookup(ctx, "generic:p1"); err != nil || ev.ID != p1.ID {
		t.Fatalf("lookup of p1's key: %v %v", ev, err)
	}
	fix := memEventAt(c.now(), Queued, "59899123456")
	fix.Params.Agent = "a6"
	if a := accept("generic:r1", fix); a.Duplicate || a.Event.State != Queued {
		t.Fatalf("the fix of an evicted mapping rejection: duplicate %v, %s; want a new queued event", a.Duplicate, a.Event.State)
	}
	placeAll(t, m, c.now())
	if got := m.sizes(); !strings.HasPrefix(got, "events 3 order 3 claims 6 ") {
		t.Fatalf("within the dedup window the store holds %s, want 3 events and p1–p5's and r1's claims", got)
	}
	c.add(24*time.Hour + sweepEvery)
	if _, err := m.Promote(ctx, c.now()); err != nil {
		t.Fatal(err)
	}
	if got := m.sizes(); !strings.HasPrefix(got, "events 3 order 3 claims 0 ") {
		t.Fatalf("after the dedup window the store holds %s, want no claims", got)
	}
	if a := accept("generic:p1", memEventAt(c.now(), Queued, "59899123456")); a.Duplicate {
		t.Fatalf("p1 after the dedup window is still a duplicate of %s", a.Event.ID)
	}
}
