// Package writeback logs each call dialhook places on the CRM record the
// webhook came from — a HubSpot Call engagement, a Pipedrive call activity
// — when the call is placed, and updates it when its outcome arrives. It
// rides the notification workers' durable jobs (dispatch.Hook): retried
// with backoff, recorded on the event, never in the dial path.
//
// It must not: import Echo, go-redis, handlers or intake; or know a CRM's
// wire format (crmapi does).
package writeback

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"dialhook/crmapi"
	"dialhook/notify"
	"dialhook/store"
)

// outcomeOf says in words what a job tells of the call.
func outcomeOf(t notify.Type, ev *store.Event) string {
	switch t {
	case notify.CallCompleted:
		return "completed"
	case notify.EventAgentNoAnswer:
		return "the agent did not answer"
	}
	return ""
}

func summary(t notify.Type, ev *store.Event) crmapi.CallSummary {
	return crmapi.CallSummary{Agent: ev.Params.Agent, Destination: ev.Params.Destination, GUID: ev.CallGUID, Outcome: outcomeOf(t, ev)}
}

// refOf is the id the hook named name created for ev, from the attempts
// recorded on it ("" when none yet).
func refOf(ev *store.Event, name string) string {
	for i := len(ev.Notifications) - 1; i >= 0; i-- {
		if a := ev.Notifications[i]; a.Endpoint == name && a.Ref != "" {
			return a.Ref
		}
	}
	return ""
}

// attempt turns a CRM call's error into an attempt: retried when the CRM
// may take it later (429, 5xx, no answer), failed at once when not (401,
// 403: a token to fix; other 4xx).
func attempt(start time.Time, err error) notify.Attempt {
	a := notify.Attempt{At: start, Latency: time.Since(start), Outcome: notify.Delivered}
	if err == nil {
		return a
	}
	a.Error, a.Outcome = err.Error(), notify.Retry
	var ce *crmapi.Error
	if errors.As(err, &ce) {
		a.Status, a.RetryAfter = ce.Status, ce.RetryAfter
		if !ce.Retryable {
			a.Outcome = notify.Failed
		}
	}
	return a
}

// Source is what every write-back hook is: the source whose events it
// writes back.
type Source string

// Name implements dispatch.Hook.
func (s Source) Name() string { return "writeback:" + string(s) }

// Wants implements dispatch.Hook: the source's placed calls and their
// outcomes.
func (s Source) Wants(t notify.Type, ev *store.Event) bool {
	return ev.Source == string(s) && (t == notify.EventPlaced || t == notify.CallCompleted || t == notify.EventAgentNoAnswer)
}

// HubSpot writes Call engagements.
type HubSpot struct {
	Source
	API *crmapi.HubSpot
}

// Deliver implements dispatch.Hook: the call is created when placed (as
// CONNECTING), and updated (or, if its creation never succeeded, created)
// with its outcome.
func (h *HubSpot) Deliver(ctx context.Context, t notify.Type, ev *store.Event) (notify.Attempt, string) {
	start := time.Now()
	call := crmapi.HubSpotCall{Timestamp: ev.UpdatedAt, Title: "dialhook call to " + ev.Params.Destination, Summary: summary(t, ev),
		Status: crmapi.HubSpotConnecting, ToNumber: ev.Params.Destination, FromNumber: ev.Params.CallerID,
		ObjectType: ev.ObjectType, ObjectID: ev.RecordID}
	switch t {
	case notify.CallCompleted:
		call.Status, call.Disposition = crmapi.HubSpotCompleted, crmapi.HubSpotOutcomeConnected
		if c := ev.Call; c != nil && c.FinishedAt != nil {
			call.Timestamp = *c.FinishedAt
		}
	case notify.EventAgentNoAnswer:
		call.Status = crmapi.HubSpotNoAnswer
	}
	if ref := refOf(ev, h.Name()); ref != "" {
		return attempt(start, h.API.UpdateCall(ctx, ref, call)), ref
	}
	id, err := h.API.CreateCall(ctx, call)
	return attempt(start, err), id
}

// Pipedrive writes call activities.
type Pipedrive struct {
	Source
	API *crmapi.Pipedrive
}

// Deliver implements dispatch.Hook: an open call activity when placed,
// marked done with the outcome; an outcome without an activity yet adds a
// done one.
func (p *Pipedrive) Deliver(ctx context.Context, t notify.Type, ev *store.Event) (notify.Attempt, string) {
	start := time.Now()
	s := summary(t, ev)
	if ref := refOf(ev, p.Name()); ref != "" {
		id, _ := strconv.ParseInt(ref, 10, 64)
		if t == notify.EventPlaced {
			return attempt(start, nil), ref // created already (a retried job)
		}
		return attempt(start, p.API.MarkDone(ctx, id, s)), ref
	}
	act := crmapi.PipedriveActivity{Subject: "Call " + ev.Params.Destination, Summary: s, Done: t != notify.EventPlaced, Due: ev.UpdatedAt}
	id, _ := strconv.ParseInt(ev.RecordID, 10, 64)
	switch strings.ToLower(ev.ObjectType) {
	case "deal", "deals":
		act.DealID = id
	case "organization", "org":
		act.OrgID = id
	default:
		act.PersonID = id
	}
	created, err := p.API.AddCallActivity(ctx, act)
	ref := ""
	if err == nil {
		ref = strconv.FormatInt(created, 10)
	}
	return attempt(start, err), ref
}
