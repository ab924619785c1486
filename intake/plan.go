package intake

import (
	"errors"
	"fmt"
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
	// Cap is limits.per_destination (nil: none), counted across sources.
	Cap *store.CapRule
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
	// Rules say which calling rules would stop the call (dry run only).
	Rules []string
	// Window says in which time zones the call window was read and what
	// it decided ("" without a window, or without the trail).
	Window string
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
		w := src.WindowFor(rec.Params.Destination)
		scheduleIn(rec, w, now)
		if trail {
			p.Window = explainWindow(w, rec)
		}
	}
	rec.DedupKey = dedupKey(ev, res)
	p.Submission = store.Submission{Event: rec, DedupKey: src.Name + ":" + rec.DedupKey, DedupTTL: dedupTTL}
	if src.Cooldown > 0 && rec.Params.Destination != "" {
		p.Submission.CooldownKey = src.Name + ":" + rec.Params.Destination
		p.Submission.CooldownTTL = src.Cooldown
	}
	// The calling rules (do-not-call list, cap per destination) are the
	// store's to check, atomically with the other accepts of the number.
	p.Submission.Destination, p.Submission.Cap = rec.Params.Destination, src.Cap
	p.Submission.AddDNC = res != nil && res.DoNotCall && rec.State != store.Rejected && rec.Params.Destination != ""
	if c := src.Cap; c != nil && rec.State == store.Queued {
		p.Rules = append(p.Rules, fmt.Sprintf("cap: at most %d events for %s within %s (limits.per_destination), counted when recorded", c.Max, rec.Params.Destination, c.Per))
	}
	return p
}

// WindowFor is the source's call window as it applies to a call to dest
// (as mapped): in dest's own time zones when the window says timezone:
// destination; nil when the source has none (always open).
func (src *Source) WindowFor(dest string) *schedule.Window {
	if !src.Window.ByDestination() {
		return src.Window
	}
	if dest == "" {
		return src.Window.For("")
	}
	return src.Window.For(src.Mapper.DestinationE164(dest))
}

// scheduleIn moves a queued record into the call window w: scheduled for its
// next opening, or expired when that is never, or later than max_delay.
func scheduleIn(rec *store.Event, w *schedule.Window, now time.Time) {
	next := w.Next(now)
	switch {
	case next.IsZero() && w.ByDestination():
		rec.State, rec.Error = store.Expired, "the call window is not open in "+w.Zones()+" within the next week"
	case next.IsZero():
		rec.State, rec.Error = store.Expired, "the call window never opens"
	case !next.After(now):
	case w.MaxDelay > 0 && next.Sub(now) > w.MaxDelay:
		rec.State, rec.Error = store.Expired, "the next call window opens at "+next.UTC().Format(time.RFC3339)+", later than max_delay"
	default:
		due := next.UTC()
		rec.State, rec.DueAt = store.Scheduled, &due
	}
}

// explainWindow says, for the dry run, where the window was read and what
// it decided for rec.
func explainWindow(w *schedule.Window, rec *store.Event) string {
	s := "call window evaluated in " + w.Zones()
	switch rec.State {
	case store.Scheduled:
		return s + ": closed now; due at " + rec.DueAt.Format(time.RFC3339) + ", when it opens"
	case store.Expired:
		return s + ": " + rec.Error
	}
	return s + ": open now"
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
