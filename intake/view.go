package intake

import (
	"encoding/json"
	"strings"
	"time"

	"dialhook/store"
)

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
	Dial       string            `json:"dial,omitempty"`
	DialSpec   *store.DialSpec   `json:"dial_spec,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	Errors     map[string]string `json:"errors,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	// CallWindow says in which time zones the call window was read (the
	// destination's, with timezone: destination) and what it decided.
	CallWindow string `json:"call_window,omitempty"`
	// DuplicateOf is the recorded event this delivery would duplicate
	// (would_be "duplicate"); Supersedes the mapping rejection it would
	// take over (it maps now).
	DuplicateOf *DuplicateOf `json:"duplicate_of,omitempty"`
	Supersedes  string       `json:"supersedes,omitempty"`
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
			State: rec.State, DedupKey: rec.DedupKey, DueAt: rec.DueAt, Reason: rec.Error, CallWindow: p.Window,
			Dial: dialView(rec.Dial), DialSpec: rec.Dial,
		}
		if ex := p.Existing; ex != nil {
			if ex.State == store.Rejected && ex.ErrorKind == MappingFailed && !(rec.State == store.Rejected && rec.ErrorKind == MappingFailed) {
				d.Supersedes = ex.ID
			} else {
				d.State = "duplicate"
				d.DuplicateOf = &DuplicateOf{EventID: ex.ID, State: string(ex.State), CallGUID: ex.CallGUID, ErrorKind: ex.ErrorKind}
			}
		}
		if len(ev.Record) == 0 || !json.Valid(ev.Record) {
			d.Normalized.Record = json.RawMessage("null")
		}
		if p.Result != nil {
			d.Decisions, d.Warnings = append(p.Result.Decisions, p.Rules...), rec.Warnings // alternatives may add some
			if p.Result.Matched {
				d.Params = p.Result.Params
			}
		}
		if p.MapErr != nil {
			d.Errors = p.MapErr.Fields
			d.Params = nil
		}
		for _, r := range p.Rules {
			if strings.HasPrefix(r, "blocked:") {
				d.State = store.Blocked
			}
		}
		if rec.Enrich != nil {
			d.Fetch = "the record lacks what the mapping needs (" + rec.Enrich.Need + " " + rec.Enrich.Ref +
				"): the dispatcher fetches it from the CRM's API before the call and maps the event again"
		}
		v.Events = append(v.Events, d)
	}
	return v
}
