// Package store keeps dialhook's events: the atomic dedup claim, the event
// records with their call GUIDs, and the durable queue the dispatcher reads.
//
// Two implementations honour one contract and pass one shared test suite:
// Redis (production, shared by replicas) and Memory (the embedded default,
// for trying dialhook out; it keeps nothing across restarts).
//
// It is the only package (with its subpackages) that imports go-redis and
// spells a Redis key. It must not import Echo, intake, handlers, dispatch or
// crm: it stores records, it does not know where they came from.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"dialhook/ucontact"
)

// State is where an event is in its life.
type State string

// The states of an event. queued → dialing → placed | handed_off | rejected | failed | unknown;
// placed → completed | agent_no_answer when uContact tells;
// ignored, suppressed and expired events are never dialed; scheduled ones wait
// for their call window.
const (
	Queued     State = "queued"
	Scheduled  State = "scheduled"
	Dialing    State = "dialing"
	Placed     State = "placed"
	Rejected   State = "rejected"
	Failed     State = "failed"
	Unknown    State = "unknown"
	Ignored    State = "ignored"
	Suppressed State = "suppressed"
	Expired    State = "expired"
	// Completed: uContact said the placed call ended (FinishInteraction).
	Completed State = "completed"
	// AgentNoAnswer: uContact said the agent did not pick up
	// (AgentRingNoAnswer, matched by agent).
	AgentNoAnswer State = "agent_no_answer"
	// HandedOff: uContact's dialer took the lead (Dialers/DialerTask
	// answered something other than 0): it dials when an agent is free,
	// and dialhook's part is over. The answer is in DialerAnswer.
	HandedOff State = "handed_off"
)

// Gone is no state an event is ever in, and is not in States: it names,
// in a duplicate's answer, the holder of a dedup claim whose record is no
// longer kept (past retention, or evicted from the in-memory store at
// memory_max_events) — the claim outlives it, so the redelivery is still
// recognised, but what became of the event is no longer known.
const Gone State = "gone"

// States lists every state.
var States = []State{Queued, Scheduled, Dialing, Placed, Rejected, Failed, Unknown, Ignored, Suppressed, Expired, Completed, AgentNoAnswer,
	Blocked, Capped, HandedOff}

// Final reports whether nothing more will happen to an event on its own.
func (s State) Final() bool {
	switch s {
	case Queued, Scheduled, Dialing:
		return false
	}
	return true
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// MappingFailed is the error_kind of an event rejected because its mapping
// failed. Such an event has no complete call parameters: it is never
// redialed, and it does not hold its dedup claim against a redelivery that
// maps (see Submission and Accept).
const MappingFailed = "mapping_failed"

// Redial notes a deliberate request to dial an event again.
type Redial struct {
	At     time.Time `json:"at"`
	Client string    `json:"client"`
}

// Event is the record of one CRM event.
type Event struct {
	ID         string            `json:"id"`
	Source     string            `json:"source"`
	Kind       string            `json:"kind"`
	DedupKey   string            `json:"dedup_key"`
	ReceivedAt time.Time         `json:"received_at"`
	State      State             `json:"state"`
	Params     ucontact.Params   `json:"params"`
	CallGUID   string            `json:"call_guid,omitempty"`
	DryRun     bool              `json:"dry_run,omitempty"`
	Error      string            `json:"error,omitempty"`
	ErrorKind  string            `json:"error_kind,omitempty"`
	Fields     map[string]string `json:"fields,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	Attempts   int               `json:"attempts"`
	Duplicates int               `json:"duplicates"`
	ObjectType string            `json:"object_type,omitempty"`
	RecordID   string            `json:"record_id,omitempty"`
	DueAt      *time.Time        `json:"due_at,omitempty"`
	Redials    []Redial          `json:"redials,omitempty"`
	// Supersedes is the id of the mapping-rejected event whose dedup claim
	// this one took over (a redelivery that maps now); SupersededBy is the
	// other side of that link, on the rejected event.
	Supersedes   string `json:"supersedes,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
	// Enrich, while set, says the record lacks what its mapping needs and
	// where the dispatcher fetches it before the call (Begin answers
	// Enrich; Enriched records the result).
	Enrich    *Enrich   `json:"enrich,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// History lists the AgentCall attempts and their outcomes.
	History []Attempt `json:"history,omitempty"`
	// LastDuplicateAt is when the last redelivery was recognised.
	LastDuplicateAt *time.Time `json:"last_duplicate_at,omitempty"`
	// ReplayOf is the event whose stored request this one replayed.
	ReplayOf string `json:"replay_of,omitempty"`
	// Request is the webhook as received, secrets masked (Get answers it
	// until inspect.retention; List does not).
	Request *Request `json:"request,omitempty"`
	// Call is what uContact said of the call after it was placed.
	Call *Call `json:"call,omitempty"`
	// Notifications are the notify deliveries tried for it (Get answers
	// them; List does not).
	Notifications []NotifyAttempt `json:"notifications,omitempty"`
	// Dial, when set, says how the call is handed to uContact other than
	// by a plain AgentCall (see DialSpec).
	Dial *DialSpec `json:"dial,omitempty"`
	// DialerAnswer is what Dialers/DialerTask answered (at most 200
	// bytes), for an event handed off to uContact's dialer.
	DialerAnswer string `json:"dialer_answer,omitempty"`
}

// The dial modes of DialSpec.Mode.
const (
	DialAgentCall  = "agent_call"
	DialDialerTask = "dialer_task"
)

// DialSpec is how an event's call is handed to uContact, decided when the
// event is planned: Mode DialerTask queues the lead in uContact's dialer
// (Campaign, Alternatives, CallDate); Data goes with the call either way
// (AgentCallwithData for an AgentCall). The store keeps it opaque: the
// dispatcher reads it.
type DialSpec struct {
	Mode         string `json:"mode"`
	Campaign     string `json:"campaign,omitempty"`
	Data         string `json:"data,omitempty"`
	Alternatives string `json:"alternatives,omitempty"`
	// CallDate is when uContact's dialer is to call (a lead that arrived
	// outside its call window, with schedule_in_dialer): the local time of
	// the window's opening, "YYYY-MM-DD HH:MM:SS"; "" for now.
	CallDate string `json:"call_date,omitempty"`
}

// Enrich is what an event's record lacks and where to fetch it. The store
// keeps it opaque: the dispatcher's enricher reads it.
type Enrich struct {
	Need  string          `json:"need"`  // what to fetch, e.g. "close_lead"
	Ref   string          `json:"ref"`   // the CRM id to fetch it by
	Event json.RawMessage `json:"event"` // the normalized CRM event, to map again
	Tries int             `json:"tries"` // fetches that failed so far
}

// Enrichment is what the enricher made of an event Begin answered Enrich
// for: Queued without DueAt goes on to Begin at once with Params; Queued
// with DueAt tries again then; Rejected or Ignored end it.
type Enrichment struct {
	State     State
	Params    ucontact.Params
	Warnings  []string
	Error     string
	ErrorKind string
	Fields    map[string]string
	DueAt     time.Time
}

// remappable reports whether e was rejected by its mapping: a redelivery
// that maps takes over its dedup claim.
func (e *Event) remappable() bool { return e.State == Rejected && e.ErrorKind == MappingFailed }

// Errors callers branch on.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrUnavailable = errors.New("store: unavailable")
	ErrQueueFull   = errors.New("store: queue is full")
	// ErrFull means the store is out of memory (Redis maxmemory reached with
	// noeviction, or the in-memory store at memory_max_events): nothing was
	// written; the sender should retry later. It also matches ErrUnavailable.
	ErrFull = fmt.Errorf("%w: out of memory", ErrUnavailable)
	// ErrConflict means the event was not in a state that allows the change.
	ErrConflict = errors.New("store: event is not in a state that allows this")
	// ErrNotRedialable means the event was rejected by its mapping: it has no
	// complete call parameters; a redelivery of it is mapped again instead.
	ErrNotRedialable = fmt.Errorf("%w: its mapping failed", ErrConflict)
)

// IsFull reports whether err is ErrFull (for outage.WithFull).
func IsFull(err error) bool { return errors.Is(err, ErrFull) }

// Submission is one event to accept.
//
// Dedup rule: a claim held by an earlier event makes the submission a
// duplicate of it — unless that event was rejected by its mapping
// (MappingFailed) and this submission maps (its state is not a mapping
// rejection): then the new event takes the claim over, records the link
// (Supersedes / SupersededBy) and is queued as usual. A redelivery that still
// fails its mapping stays a duplicate of the rejected event.
type Submission struct {
	// Event is the new record. Its State is Queued (enqueue now), Scheduled
	// (enqueue at DueAt), or a final state such as Rejected or Ignored
	// (record only).
	Event *Event
	// DedupKey is the full claim key (source and key); empty means no claim.
	DedupKey string
	DedupTTL time.Duration
	// CooldownKey, when set, is claimed for CooldownTTL; a claim already held
	// turns the event into Suppressed.
	CooldownKey string
	CooldownTTL time.Duration
	// Destination, when set, is the number the calling rules look at: on
	// the do-not-call list the event is Blocked; over Cap (when set) it is
	// Capped.
	Destination string
	Cap         *CapRule
	// AddDNC puts Destination on the do-not-call list first (a source's
	// dnc_on matched): the event is then Blocked.
	AddDNC bool
}

// Accepted is what Accept did with one submission.
type Accepted struct {
	Event     *Event // the stored record; for a duplicate, the first delivery's record
	Duplicate bool
}

// Delivery is one queue entry handed to a worker.
type Delivery struct {
	EventID string
	Ref     string // the queue's own id of the entry
	Agent   string // the event's agent when it was queued (for pacing; the store checks it)
	// Consumer is the consumer Next or Reclaim gave the entry to (Keep
	// checks it still holds the entry).
	Consumer string
	// Token names one attempt of one worker at this entry. Begin and Finish
	// called again with the same Token (after a timeout whose command may
	// have run) answer as the first call did instead of seeing their own
	// earlier write as a conflict; a reclaimed entry gets a new Token.
	Token string
}

// Outcome is what a worker learned; Finish records it.
type Outcome struct {
	State    State // Placed, HandedOff, Rejected, Failed, Unknown, or Queued/Scheduled with DueAt (retry, window)
	CallGUID string
	// DialerAnswer is DialerTask's answer, for HandedOff.
	DialerAnswer string
	DryRun       bool
	Error        string
	ErrorKind    string
	DueAt        time.Time
	// Agent, when set, is released (with MinGap) as the call ends.
	Agent  string
	MinGap time.Duration
}

// BeginResult says what a worker may do with a delivery.
type BeginResult int

// The answers of Begin.
const (
	// Dial: the event is now Dialing (its attempt counted); place the call.
	Dial BeginResult = iota
	// Skip: the event is gone or already final; the delivery was acknowledged.
	Skip
	// Interrupted: the event was already Dialing when this delivery came
	// back (its worker died mid-call); it is now Unknown and is not dialed.
	Interrupted
	// Busy: the agent has a call in flight or is within its gap; the event
	// was put back to wait until Event.DueAt, or until the agent's call is
	// finished (and its gap over) when that comes first.
	Busy
	// NeedsEnrich: the event's record lacks what its mapping needs
	// (Event.Enrich); nothing changed and the delivery stays with the
	// caller, who fetches it and calls Enriched. A worker that dies meanwhile
	// leaves it to be reclaimed and enriched again: nothing was dialed.
	NeedsEnrich
)

// ListQuery asks for a page of events in a state ("" : every state),
// from a source ("": every source).
type ListQuery struct {
	State  State
	Source string
	Limit  int
	Cursor string // a Page.Next; "" for the first page
}

// matches reports whether e belongs in the listing q asks for.
func (q ListQuery) matches(e *Event) bool {
	return (q.State == "" || e.State == q.State) && (q.Source == "" || e.Source == q.Source)
}

// Page is one page of a listing. A page may hold fewer events than asked,
// even none, and still have a Next: a listing reads a bounded part of the
// store per page.
type Page struct {
	Events []*Event
	Next   string // the cursor of the next page; "" when this is the last
}

// Stats are gauges for /metrics.
type Stats struct {
	QueueDepth    int64
	OldestPending time.Duration
	Scheduled     int64
	ByState       map[State]int64
}

// Store is the contract both implementations honour.
type Store interface {
	// NewEventID is the id of a new event with this dedup key (the Redis
	// store spreads events over shards by dedup key, and an id names its
	// shard).
	NewEventID(dedupKey string) string
	// Accept records each submission atomically (claim, record, queue entry:
	// all or none). For a batch, an error means some may be recorded: the
	// sender retries and those become duplicates. An event whose id was not
	// made by NewEventID for its dedup key gets a new id (Accepted.Event.ID).
	Accept(ctx context.Context, subs []Submission) ([]Accepted, error)
	Get(ctx context.Context, id string) (*Event, error)
	GetByGUID(ctx context.Context, guid string) (*Event, error)
	// Lookup returns the event that holds the dedup claim key (a
	// Submission's DedupKey), or ErrNotFound. It writes nothing: the dry
	// run uses it to say what a delivery would duplicate.
	Lookup(ctx context.Context, dedupKey string) (*Event, error)
	// List returns a page of the events in a state, newest first (across
	// shards), and the cursor of the next page ("" after the last).
	List(ctx context.Context, q ListQuery) (Page, error)

	// Shards is how many queues the store has: Next and Reclaim take one.
	Shards() int
	// Next waits up to block for an entry of shard's queue for consumer
	// (zero: it does not wait), and returns up to count of the entries
	// there (at least one asked for).
	Next(ctx context.Context, consumer string, shard, count int, block time.Duration) ([]Delivery, error)
	// Reclaim takes over entries of shard's queue another consumer left
	// pending for idle.
	Reclaim(ctx context.Context, consumer string, shard int, idle time.Duration) ([]Delivery, error)
	// Keep reports whether d's entry is still pending for d.Consumer and,
	// when it is, makes it fresh again, so that no Reclaim takes it over
	// for another idle period. It needs no memory: it works while Redis is
	// out of memory. A worker that asks Begin again through an outage keeps
	// its entry with it, and stops when the entry is no longer its own.
	Keep(ctx context.Context, d Delivery) (bool, error)
	// Begin moves the event to Dialing before a call; see BeginResult. It
	// also takes the pacing slot of the event's agent for at most hold: one
	// call in flight per agent across every replica.
	Begin(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (*Event, BeginResult, error)
	// Finish records the outcome of a Dialing event and acknowledges d. ev
	// is the record Begin answered for d: Finish builds the new record from
	// it instead of reading it again (nil: Finish reads it).
	Finish(ctx context.Context, d Delivery, ev *Event, out Outcome, now time.Time) (*Event, error)
	// Enriched records what the enricher made of an event Begin answered
	// NeedsEnrich for (see Enrichment). ev is the record Begin answered.
	// It answers ErrConflict when the event is no longer waiting for it.
	Enriched(ctx context.Context, d Delivery, ev *Event, out Enrichment, now time.Time) (*Event, error)
	// Promote moves due scheduled events and retries into the queue.
	Promote(ctx context.Context, now time.Time) (int, error)
	// Redial puts an Unknown, Failed or Rejected event back in the queue.
	// A mapping rejection is not redialable (ErrNotRedialable); any other
	// state answers ErrConflict. The rule is checked atomically with the
	// change.
	Redial(ctx context.Context, id string, r Redial) (*Event, error)

	// RecordCallEvent records what uContact said of a call: found by GUID,
	// or for AgentRingNoAnswer by the agent's last placed call within the
	// match window; atomic with the state change it makes. A delivery seen
	// before (its DedupKey) answers CallDuplicate and changes nothing.
	RecordCallEvent(ctx context.Context, ce CallEvent) (*Event, CallResult, error)

	Stats(ctx context.Context, now time.Time) (Stats, error)
	Ping(ctx context.Context) error
	// Ready is Ping plus what Ping cannot see: nil when an event can be
	// accepted now, else an error saying why (ErrFull when out of memory).
	Ready(ctx context.Context) error
	// Check inspects the store's set-up once at start-up and returns
	// warnings for the operator (an evicting memory policy, no persistence).
	Check(ctx context.Context) []string
	Close() error
}

// redialFrom are the states an event may be redialed from on request. It
// is the one table of the rule: Redialable reads it, and the Redis redial
// script reads it too (luaLib's REDIAL is built from it).
var redialFrom = []State{Unknown, Failed, Rejected}

// RedialRule says the rule in words, for the admin API and the console.
var RedialRule = func() string {
	names := make([]string, len(redialFrom))
	for i, s := range redialFrom {
		names[i] = string(s)
	}
	return "only an event in state " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] +
		" (or placed by a dry run) can be redialed"
}()

// RedialableEvent is Redialable for e, plus: a placed event whose call was
// a dry run (no uContact configured: nobody was rung) may be redialed too,
// so that the whole flow can be tried without uContact. A real placed call
// is never dialed again on request.
func RedialableEvent(e *Event) error {
	if e.State == Placed && e.DryRun {
		return nil
	}
	return Redialable(e.State, e.ErrorKind)
}

// Redialable says whether an event in state s with error kind kind may be
// dialed again on request, and if not, why. Both stores check it
// atomically with the change (memory under its lock, Redis in its script).
func Redialable(s State, kind string) error {
	switch {
	case s == Rejected && kind == MappingFailed:
		return ErrNotRedialable
	case slices.Contains(redialFrom, s):
		return nil
	}
	return ErrConflict
}
