package intake

import (
	"time"

	"dialhook/store"
)

// Answer is what a sender is told about one event.
type Answer struct {
	EventID  string            `json:"event_id,omitempty"`
	Status   string            `json:"status"`
	CallGUID string            `json:"call_guid,omitempty"`
	DueAt    *time.Time        `json:"due_at,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
	// DuplicateOf says what a duplicate duplicates: the first delivery's
	// event as it is now.
	DuplicateOf *DuplicateOf `json:"duplicate_of,omitempty"`
	// Supersedes is the mapping-rejected event whose dedup claim this
	// redelivery took over because it maps now.
	Supersedes string       `json:"supersedes,omitempty"`
	Event      *store.Event `json:"event,omitempty"`

	// MappingRejected: this delivery's mapping failed (a new rejection, or
	// a duplicate of one that still does not map): the sender's dialect
	// decides whether that is a 422.
	MappingRejected bool `json:"-"`
}

// DuplicateOf is the state of the event a duplicate delivery repeats.
type DuplicateOf struct {
	EventID   string `json:"event_id"`
	State     string `json:"state"`
	CallGUID  string `json:"call_guid,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
}

// answerFor is the answer for one accepted event; planned is the record
// this delivery would have made (for a duplicate, its own mapping result).
func answerFor(a store.Accepted, planned *store.Event) Answer {
	e := a.Event
	ans := Answer{EventID: e.ID, Status: string(e.State), CallGUID: e.CallGUID, Supersedes: e.Supersedes}
	switch {
	case a.Duplicate:
		ans.Status = "duplicate"
		ans.DuplicateOf = &DuplicateOf{EventID: e.ID, State: string(e.State), CallGUID: e.CallGUID, ErrorKind: e.ErrorKind}
		if e.State == store.Rejected && e.ErrorKind == MappingFailed && planned.State == store.Rejected && planned.ErrorKind == MappingFailed {
			// A redelivery of a mapping rejection that still does not map:
			// say why, from this delivery's own mapping. A duplicate of
			// any other event (one placed after a fixed redelivery took
			// the claim over, say) is a plain duplicate, whatever this
			// delivery's body maps to.
			ans.Reason, ans.Fields, ans.MappingRejected = planned.Error, planned.Fields, true
		}
	case e.State == store.Scheduled:
		ans.DueAt = e.DueAt
	case e.State == store.Rejected:
		ans.Reason, ans.Fields = e.Error, e.Fields
		ans.MappingRejected = e.ErrorKind == MappingFailed
	case e.State == store.Expired, e.State == store.Blocked, e.State == store.Capped:
		ans.Reason = e.Error // which rule, and why
	}
	return ans
}
