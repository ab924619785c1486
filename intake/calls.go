package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"dialhook/crm"
	"dialhook/store"
)

// UContactKind is the source kind that receives uContact's own event
// notifications (what became of a call) instead of CRM triggers.
const UContactKind = "ucontact"

// CallAnswer is what a uContact event did.
type CallAnswer struct {
	Status  string `json:"status"` // completed, disposed, agent_no_answer, requeued, recorded, unmatched, duplicate, ignored
	Event   string `json:"uc_event"`
	EventID string `json:"event_id,omitempty"`
	State   string `json:"state,omitempty"`
	// Reason says why an event is unmatched.
	Reason string `json:"reason,omitempty"`
	// GUID and Agent are what the event named (for the log line).
	GUID  string `json:"-"`
	Agent string `json:"-"`
}

// receiveCall records a uContact event (the request is authenticated):
// FinishInteraction, InteractionDisposition and AgentRingNoAnswer change
// the event they are about; any other is acknowledged and ignored.
func (p *Pipeline) receiveCall(ctx context.Context, src *Source, req *crm.Request) (*Result, error) {
	uc, err := crm.ParseUContact(req.Body)
	if err != nil {
		return nil, adapterError(src, req, err)
	}
	ans := &CallAnswer{Event: uc.Type, GUID: uc.GUID, Agent: uc.Agent}
	ce := store.CallEvent{Kind: store.CallEventKind(uc.Type), GUID: uc.GUID, Agent: uc.Agent, At: req.Now, Fields: uc.Fields,
		DedupTTL: p.dedup, Requeue: src.RequeueOnAgentNoAnswer}
	switch ce.Kind {
	case store.CallFinished, store.CallDisposed:
		if uc.GUID == "" {
			return nil, &Error{Kind: Malformed, Msg: uc.Type + ` needs "guid"`}
		}
	case store.CallAgentNoAnswer:
		if uc.Agent == "" {
			return nil, &Error{Kind: Malformed, Msg: uc.Type + ` needs "agent"`}
		}
	default:
		ans.Status = "ignored"
		return &Result{Call: ans}, nil
	}
	ce.DedupKey = callDedupKey(src.Name, uc, req.Body)
	ctx, cancel := context.WithTimeout(ctx, p.storeWait)
	defer cancel()
	ev, res, err := p.store.RecordCallEvent(ctx, ce)
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return nil, &Error{Kind: StoreUnavailable, Msg: "the event could not be recorded; retry later", Err: err}
	case err != nil:
		return nil, &Error{Kind: StoreFailed, Msg: "internal error: the store refused the event", Err: err}
	}
	ans.Status = string(res)
	if ev != nil {
		ans.EventID, ans.State = ev.ID, string(ev.State)
	}
	if res == store.CallUnmatched {
		ans.Reason = unmatchedReason(ce.Kind)
	}
	return &Result{Call: ans}, nil
}

// unmatchedReason says why an event of kind matched no event of dialhook's.
func unmatchedReason(kind store.CallEventKind) string {
	if kind == store.CallAgentNoAnswer {
		return "no call of this agent's is ringing: none placed within ucontact_events.match_window, or it has ended"
	}
	return "no event placed with this GUID"
}

// callDedupKey names a uContact event so that a redelivery is recognised: the
// same type, interaction (or agent) and raw date. An event without a date
// is named by its body instead, so that two different events of one agent
// (two unanswered rings) are never taken for one.
func callDedupKey(source string, uc crm.UContactEvent, body []byte) string {
	when := uc.RawDate
	if when == "" {
		sum := sha256.Sum256(body)
		when = "body:" + hex.EncodeToString(sum[:16])
	}
	return source + "|" + strings.Join([]string{uc.Type, uc.GUID, uc.Agent, when}, "|")
}
