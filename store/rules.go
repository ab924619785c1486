package store

import (
	"context"
	"time"
)

// Calling rules kept in the store (issue 15): the do-not-call list and the
// attempt cap per destination. Both are checked when an event is accepted
// (a step of their own before its script: their keys are not the event's)
// and the list again right before the call, so that a number added while
// its event waited in the queue is honoured.

// DNCEntry is a number on the do-not-call list.
type DNCEntry struct {
	Number  string    `json:"number"` // normalized with the destinations' phone rules
	AddedAt time.Time `json:"added_at"`
	By      string    `json:"by,omitempty"` // who added it: "api", "import", a source's name
}

// DNC is the do-not-call list.
type DNC interface {
	// DNCAdd puts entries on the list (an entry already there keeps its
	// first time).
	DNCAdd(ctx context.Context, entries []DNCEntry) error
	// DNCRemove takes a number off; false when it was not on.
	DNCRemove(ctx context.Context, number string) (bool, error)
	// DNCGet answers the entry of a number, or ErrNotFound.
	DNCGet(ctx context.Context, number string) (*DNCEntry, error)
	// DNCList lists numbers with prefix in order, from after (exclusive),
	// at most limit; next is the cursor of the next page ("" at the end).
	DNCList(ctx context.Context, prefix, after string, limit int) (entries []DNCEntry, next string, err error)
}

// CapRule is the attempt cap per destination: at most Max events for one
// number within Per, across every source.
type CapRule struct {
	Max int
	Per time.Duration
}

// Blocked and Capped are final states: never dialed.
const (
	// Blocked: the destination is on the do-not-call list.
	Blocked State = "blocked"
	// Capped: the destination had its maximum of events in the period.
	Capped State = "capped"
)

// ruleChecked applies the calling rules to a submission that would be
// dialed: the caller's checks answered dnc (the number's entry, nil when
// not listed) and over (the cap was reached).
func ruleChecked(s *Submission, dnc *DNCEntry, over bool) {
	e := *s.Event
	switch {
	case dnc != nil:
		e.State, e.DueAt = Blocked, nil
		e.Error = "the destination " + dnc.Number + " is on the do-not-call list since " + dnc.AddedAt.UTC().Format(time.RFC3339)
	case over:
		e.State, e.DueAt = Capped, nil
		e.Error = "the destination " + s.Destination + " had its maximum of events in the period (limits.per_destination)"
	default:
		return
	}
	s.Event = &e
}

// dialable reports whether a submission would be dialed (the rules apply).
func dialable(s *Submission) bool {
	return s.Destination != "" && (s.Event.State == Queued || s.Event.State == Scheduled)
}

// dncEntryOf is the entry a dnc_on submission adds.
func dncEntryOf(s *Submission) DNCEntry {
	return DNCEntry{Number: s.Destination, AddedAt: s.Event.ReceivedAt.UTC(), By: s.Event.Source}
}
