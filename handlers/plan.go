package handlers

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"dialhook/enrich"
	"dialhook/mapping"
	"dialhook/store"
)

// mappingFailed is the error_kind of an event whose mapping failed.
const mappingFailed = store.MappingFailed

// Planned is what dialhook decided for one normalized event, before anything
// is recorded: the record to store and the trail that explains it.
type Planned struct {
	Event      mapping.Event
	Result     *mapping.Result
	MapErr     *mapping.Error
	Submission store.Submission
}

// Plan maps each event of a webhook and builds its record: queued, scheduled
// for the call window, expired, rejected (mapping failed) or ignored (the
// source's `when` did not match). It does no I/O.
func (src *Source) Plan(events []mapping.Event, now time.Time, dedupTTL time.Duration) []Planned {
	return src.plan(events, now, dedupTTL, true)
}

// plan is Plan; without trail the mapping Decisions are not built (the
// webhook path, which never shows them) and Result.Decisions is nil.
func (src *Source) plan(events []mapping.Event, now time.Time, dedupTTL time.Duration, trail bool) []Planned {
	out := make([]Planned, len(events))
	for i := range events {
		ev := &events[i]
		p := Planned{Event: *ev}
		rec := &store.Event{
			ID: uuid.NewString(), Source: src.Name, Kind: ev.Kind, ReceivedAt: now.UTC(), UpdatedAt: now.UTC(),
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
			rec.State, rec.Error, rec.ErrorKind, rec.Fields = store.Rejected, me.Error(), mappingFailed, me.Fields
		case err != nil:
			p.MapErr = &mapping.Error{Fields: map[string]string{"mapping": err.Error()}}
			rec.State, rec.Error, rec.ErrorKind = store.Rejected, err.Error(), mappingFailed
		case !res.Matched:
			rec.State = store.Ignored
		}
		if res != nil {
			p.Result = res
			rec.Params, rec.Warnings = res.Params, res.Warnings
		}
		if rec.State == store.Rejected && ev.Fetch != nil {
			// The record lacks what the CRM's API can give: fetched and
			// mapped again by the dispatcher, before the call.
			if pending, err := enrich.Pending(ev); err == nil {
				rec.State, rec.Error, rec.ErrorKind, rec.Fields, rec.Enrich = store.Queued, "", "", nil, pending
			}
		}
		if rec.State == store.Queued && src.Window != nil {
			if next := src.Window.Next(now); next.IsZero() {
				rec.State, rec.Error = store.Expired, "the call window never opens"
			} else if next.After(now) {
				if src.Window.MaxDelay > 0 && next.Sub(now) > src.Window.MaxDelay {
					rec.State, rec.Error = store.Expired, "the next call window opens at "+next.UTC().Format(time.RFC3339)+", later than max_delay"
				} else {
					due := next.UTC()
					rec.State, rec.DueAt = store.Scheduled, &due
				}
			}
		}
		key := ev.DedupKey
		if key == "" && res != nil {
			key = res.ID
		}
		if key == "" {
			key = ev.BodyHash
		}
		rec.DedupKey = key
		p.Submission = store.Submission{Event: rec, DedupKey: src.Name + ":" + key, DedupTTL: dedupTTL}
		if src.Cooldown > 0 && rec.Params.Destination != "" {
			p.Submission.CooldownKey = src.Name + ":" + rec.Params.Destination
			p.Submission.CooldownTTL = src.Cooldown
		}
		out[i] = p
	}
	return out
}

// DryRunView is the answer of ?dry_run=true and of `dialhook map`.
type DryRunView struct {
	Source string        `json:"source"`
	Kind   string        `json:"kind"`
	Events []DryRunEvent `json:"events"`
	Note   string        `json:"note"`
}

// DryRunEvent explains one event.
type DryRunEvent struct {
	Normalized NormalizedView    `json:"normalized"`
	State      store.State       `json:"would_be"`
	DedupKey   string            `json:"dedup_key"`
	Params     any               `json:"params,omitempty"`
	DueAt      *time.Time        `json:"due_at,omitempty"`
	Decisions  []string          `json:"decisions,omitempty"`
	Fetch      string            `json:"fetch,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	Errors     map[string]string `json:"errors,omitempty"`
	Reason     string            `json:"reason,omitempty"`
}

// NormalizedView shows a mapping.Event as JSON.
type NormalizedView struct {
	Source     string          `json:"source"`
	Kind       string          `json:"kind"`
	DedupKey   string          `json:"native_dedup_key,omitempty"`
	ObjectType string          `json:"object_type,omitempty"`
	RecordID   string          `json:"record_id,omitempty"`
	Action     string          `json:"action,omitempty"`
	ReceivedAt time.Time       `json:"received_at"`
	Record     json.RawMessage `json:"record"`
}

// View builds the dry-run explanation of planned events.
func View(src *Source, kind string, plans []Planned) DryRunView {
	v := DryRunView{Source: src.Name, Kind: kind, Events: make([]DryRunEvent, 0, len(plans)),
		Note: "dry run: nothing was recorded and no call was placed"}
	for _, p := range plans {
		rec := p.Submission.Event
		ev := p.Event
		d := DryRunEvent{
			Normalized: NormalizedView{Source: ev.Source, Kind: ev.Kind, DedupKey: ev.DedupKey, ObjectType: ev.ObjectType,
				RecordID: ev.RecordID, Action: ev.Action, ReceivedAt: ev.ReceivedAt, Record: json.RawMessage(ev.Record)},
			State: rec.State, DedupKey: p.Submission.DedupKey, DueAt: rec.DueAt, Reason: rec.Error,
		}
		if len(ev.Record) == 0 || !json.Valid(ev.Record) {
			d.Normalized.Record = json.RawMessage("null")
		}
		if p.Result != nil {
			d.Decisions, d.Warnings = p.Result.Decisions, p.Result.Warnings
			if p.Result.Matched {
				d.Params = p.Result.Params
			}
		}
		if p.MapErr != nil {
			d.Errors = p.MapErr.Fields
			d.Params = nil
		}
		if rec.Enrich != nil {
			d.Fetch = "the record lacks what the mapping needs (" + rec.Enrich.Need + " " + rec.Enrich.Ref +
				"): the dispatcher fetches it from the CRM's API before the call and maps the event again"
		}
		v.Events = append(v.Events, d)
	}
	return v
}
