package store

import (
	"time"
)

// What uContact says of a call after AgentCall returned its GUID: its end
// (FinishInteraction), the agent's categorization (InteractionDisposition)
// and an agent who did not pick up (AgentRingNoAnswer).

// Call is what is known of a placed call's outcome.
type Call struct {
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	EndedBy    string     `json:"ended_by,omitempty"` // the uContact event that ended it: FinishInteraction
	// Interaction and Disposition are uContact's own fields, as sent
	// (bounded by the caller).
	Interaction map[string]any `json:"interaction,omitempty"`
	Disposition map[string]any `json:"disposition,omitempty"`
	// AgentNoAnswer: the agent did not pick up (matched by agent, within
	// the match window, not by GUID); Requeued: the lead was put back in
	// the queue for it, which happens once per event.
	AgentNoAnswer bool `json:"agent_no_answer,omitempty"`
	Requeued      bool `json:"requeued,omitempty"`
}

// CallEventKind is a uContact event dialhook acts on.
type CallEventKind string

// The kinds of CallEvent.
const (
	CallFinished      CallEventKind = "FinishInteraction"
	CallDisposed      CallEventKind = "InteractionDisposition"
	CallAgentNoAnswer CallEventKind = "AgentRingNoAnswer"
)

// CallEvent is one uContact event about a call.
type CallEvent struct {
	Kind  CallEventKind
	GUID  string // FinishInteraction, InteractionDisposition: the interaction's GUID
	Agent string // AgentRingNoAnswer: the agent's user name
	// DedupKey names the delivery (event type, GUID or agent, raw date): a
	// redelivery changes nothing twice. Kept for DedupTTL.
	DedupKey string
	DedupTTL time.Duration
	At       time.Time      // when dialhook received it
	Fields   map[string]any // uContact's fields, bounded by the caller
	// Requeue, for AgentRingNoAnswer: put the lead back in the queue (once
	// per event) instead of ending it agent_no_answer.
	Requeue bool
}

// CallResult says what a CallEvent did.
type CallResult string

// The results of RecordCallEvent.
const (
	CallCompleted   CallResult = "completed"       // placed → completed
	CallDisposition CallResult = "disposed"        // the disposition is recorded
	CallNoAnswer    CallResult = "agent_no_answer" // placed → agent_no_answer
	CallRequeued    CallResult = "requeued"        // placed → queued again, once
	CallRecorded    CallResult = "recorded"        // the fields are recorded; the state stays
	CallUnmatched   CallResult = "unmatched"       // no event of dialhook's has this GUID (or agent, in the window)
	CallDuplicate   CallResult = "duplicate"       // this delivery was recorded already
)

// applyCall writes ce onto e and returns the new state, whether the event
// goes back in the queue, and the result; ok false when ce does not apply
// to e (an AgentRingNoAnswer for an event no longer placed).
func applyCall(e *Event, ce CallEvent) (State, bool, CallResult, bool) {
	if e.Call == nil {
		e.Call = &Call{}
	}
	e.UpdatedAt = ce.At
	switch ce.Kind {
	case CallFinished:
		at := ce.At
		e.Call.FinishedAt, e.Call.EndedBy, e.Call.Interaction = &at, string(CallFinished), ce.Fields
		if e.State == Placed {
			return Completed, false, CallCompleted, true
		}
		return e.State, false, CallRecorded, true
	case CallDisposed:
		e.Call.Disposition = ce.Fields
		return e.State, false, CallDisposition, true
	case CallAgentNoAnswer:
		if e.State != Placed {
			return e.State, false, CallUnmatched, false
		}
		e.Call.AgentNoAnswer = true
		if ce.Requeue && !e.Call.Requeued {
			e.Call.Requeued, e.DueAt = true, nil
			return Queued, true, CallRequeued, true
		}
		return AgentNoAnswer, false, CallNoAnswer, true
	}
	return e.State, false, CallUnmatched, false
}
