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

// At memory_max_events the oldest final records (with their claims and
// GUIDs) make room; pending ones are never evicted: when only they fill
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
	if got, want := m.sizes(), "events 10 order 10 claims 10 guids 0 due 0 agents 0 waiters 0 caps 0 agentLast 0 refused 0 activity 0"; got != want {
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
