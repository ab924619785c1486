package intake

import (
	"errors"
	"time"

	"github.com/google/uuid"

	"dialhook/crm"
	"dialhook/mapping"
	"dialhook/schedule"
	"dialhook/store"
)

// MappingFailed is the error_kind of an event whose mapping failed.
const MappingFailed = store.MappingFailed

// Source is one configured sender, ready to serve: its adapter
// (authentication, parsing, dialect), its compiled mapping, and the rules
// that decide when an event is dialed.
type Source struct {
	Name     string
	Adapter  crm.Adapter
	Mapper   *mapping.Mapper
	Cooldown time.Duration
	Window   *schedule.Window
	// Secrets are the source's configured credentials (secret, password,
	// header and query values): masked wherever they appear in a captured
	// request.
	Secrets []string
	// Unauthenticated: no credential is configured for the source (a
	// generic source without a token, or allow_unauthenticated).
	Unauthenticated bool
	// RequeueOnAgentNoAnswer (ucontact sources): an AgentRingNoAnswer puts
	// the lead back in the queue, once per event.
	RequeueOnAgentNoAnswer bool
	// Dial is how leads are handed to uContact; nil: a plain AgentCall.
	Dial *DialPlan
}

// Planned is what dialhook decided for one normalized event, before anything
// is recorded: the record to store and the trail that explains it.
type Planned struct {
	Event      mapping.Event
	Result     *mapping.Result
	MapErr     *mapping.Error
	Submission store.Submission
	// Existing is the recorded event this one would duplicate (dry run
	// only; nil when none, or not looked up).
	Existing *store.Event
}

// Plan maps each event of a webhook and builds its record: queued, scheduled
// for the call window, expired, rejected (mapping failed) or ignored (the
// source's `when` did not match). It does no I/O.
func (src *Source) Plan(events []mapping.Event, now time.Time, dedupTTL time.Duration) []Planned {
	return src.plan(events, now, dedupTTL, true, func(string) string { return uuid.NewString() })
}

// plan is Plan; without trail the mapping Decisions are not built (the
// webhook path, which never shows them) and Result.Decisions is nil.
// newID gives a new event its id from its dedup key (the store's shard).
func (src *Source) plan(events []mapping.Event, now time.Time, dedupTTL time.Duration, trail bool, newID func(string) string) []Planned {
	out := make([]Planned, len(events))
	for i := range events {
		out[i] = src.planOne(&events[i], now, dedupTTL, trail)
		sub := &out[i].Submission
		sub.Event.ID = newID(sub.DedupKey)
		src.dialOf(sub.Event, &events[i]) // its data may name the id
		src.scheduleInDialer(sub.Event)
	}
	return out
}

func (src *Source) planOne(ev *mapping.Event, now time.Time, dedupTTL time.Duration, trail bool) Planned {
	p := Planned{Event: *ev}
	rec := &store.Event{
		Source: src.Name, Kind: ev.Kind, ReceivedAt: now.UTC(), UpdatedAt: now.UTC(),
		ObjectType: ev.ObjectType, RecordID: ev.RecordID, State: store.Queued,
	}
	var res *mapping.Result
	var err error
	if trail {
		res, err = src.Mapper.Map(ev)
	} else {
		res, err = src.Mapper.MapParams(ev)
	}
	var me *mapping.Error
	switch {
	case errors.As(err, &me):
		p.MapErr = me
		rec.State, rec.Error, rec.ErrorKind, rec.Fields = store.Rejected, me.Error(), MappingFailed, me.Fields
	case err != nil:
		p.MapErr = &mapping.Error{Fields: map[string]string{"mapping": err.Error()}}
		rec.State, rec.Error, rec.ErrorKind = store.Rejected, err.Error(), MappingFailed
	case !res.Matched:
		rec.State = store.Ignored
	}
	if res != nil {
		p.Result = res
		rec.Params, rec.Warnings = res.Params, res.Warnings
	}
	if rec.State == store.Rejected && ev.Fetch != nil {
		// The record lacks what the CRM's API can give: fetched and mapped
		// again by the dispatcher, before the call.
		if b, err := mapping.MarshalEvent(ev); err == nil {
			rec.State, rec.Error, rec.ErrorKind, rec.Fields = store.Queued, "", "", nil
			rec.Enrich = &store.Enrich{Need: ev.Fetch.Need, Ref: ev.Fetch.Ref, Event: b}
		}
	}
	if rec.State == store.Queued && src.Window != nil {
		src.schedule(rec, now)
	}
	rec.DedupKey = dedupKey(ev, res)
	p.Submission = store.Submission{Event: rec, DedupKey: src.Name + ":" + rec.DedupKey, DedupTTL: dedupTTL}
	if src.Cooldown > 0 && rec.Params.Destination != "" {
		p.Submission.CooldownKey = src.Name + ":" + rec.Params.Destination
		p.Submission.CooldownTTL = src.Cooldown
	}
	return p
}

// schedule moves a queued record into the source's call window: scheduled
// for its next opening, or expired when that is never, or later than
// max_delay.
func (src *Source) schedule(rec *store.Event, now time.Time) {
	next := src.Window.Next(now)
	switch {
	case next.IsZero():
		rec.State, rec.Error = store.Expired, "the call window never opens"
	case !next.After(now):
	case src.Window.MaxDelay > 0 && next.Sub(now) > src.Window.MaxDelay:
		rec.State, rec.Error = store.Expired, "the next call window opens at "+next.UTC().Format(time.RFC3339)+", later than max_delay"
	default:
		due := next.UTC()
		rec.State, rec.DueAt = store.Scheduled, &due
	}
}

// dedupKey is the event's key within its source: the kind's native id,
// else the mapping's id rule, else the request hash.
func dedupKey(ev *mapping.Event, res *mapping.Result) string {
	switch {
	case ev.DedupKey != "":
		return ev.DedupKey
	case res != nil && res.ID != "":
		return res.ID
	}
	return ev.BodyHash
}
