package console

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"dialhook/store"
	"dialhook/ucontact"
)

// step is one line of an event's timeline.
type step struct {
	At     time.Time
	What   string
	Detail string
	State  store.State // shown as a badge when set
}

// paramRow compares one AgentCall parameter as recorded with what the
// current configuration maps.
type paramRow struct {
	Name, Recorded, Mapped string
	HasMapped, Differs     bool
}

type eventView struct {
	Ev       *store.Event
	Source   *SourceInfo
	Timeline []step
	Request  *requestView
	Trail    trailView
	Params   []paramRow
	Mapped   bool   // the trail mapped this event: the comparison has its column
	Redial   string // why it cannot be redialed; "" when it can
	Replay   string // why it cannot be replayed; "" when it can
	Curl     string
	Done     string
}

// getEvent reads the event of the path's id, answering 404 or the store's
// failure itself.
func (c *Console) getEvent(w http.ResponseWriter, r *http.Request) (*store.Event, bool) {
	ev, err := c.store.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, "There is no event with this id (it may have outlived the retention).")
		return nil, false
	case err != nil:
		c.storeFailed(w, r, err)
		return nil, false
	}
	ev.Error = c.scrub(ev.Error)
	for k, v := range ev.Fields {
		ev.Fields[k] = c.scrub(v)
	}
	return ev, true
}

func (c *Console) eventPage(w http.ResponseWriter, r *http.Request) {
	ev, ok := c.getEvent(w, r)
	if !ok {
		return
	}
	src := c.byName[ev.Source]
	v := eventView{Ev: ev, Source: src, Timeline: timeline(ev), Request: c.viewRequest(ev.Request, 0),
		Redial: redialNote(ev), Replay: c.replayNote(ev, src), Done: doneMessages[r.URL.Query().Get("done")]}
	v.Trail = c.trail(r.Context(), ev, src)
	v.Params, v.Mapped = paramRows(ev.Params, v.Trail.Params), v.Trail.Params != nil
	if ev.Request != nil {
		v.Curl = c.curlCommand(ev, c.baseURL(r, src))
	}
	c.render(w, r, http.StatusOK, "event", "Event "+ev.ID, v)
}

// doneMessages confirm an action after its redirect (?done=).
var doneMessages = map[string]string{
	"redial": "Redial requested: the event is back in the queue and will be dialed once.",
	"replay": "Replayed: this is a new event, made from the stored request as the current configuration maps it.",
}

// timeline lists what happened to ev in order, its present state last.
func timeline(ev *store.Event) []step {
	recv := step{At: ev.ReceivedAt, What: "received"}
	if ev.Request != nil && ev.Request.Verified != "" {
		recv.Detail = "verified: " + ev.Request.Verified
	}
	steps := []step{recv}
	if ev.Duplicates > 0 {
		d := step{At: ev.ReceivedAt, What: plural(ev.Duplicates, "duplicate delivery", "duplicate deliveries")}
		if ev.LastDuplicateAt != nil {
			d.At, d.Detail = *ev.LastDuplicateAt, "the last one at "+when(*ev.LastDuplicateAt)
		}
		steps = append(steps, d)
	}
	for _, a := range ev.History {
		s := step{At: a.At, What: "attempt " + strconv.Itoa(a.N), State: a.State}
		switch {
		case a.CallGUID != "":
			s.Detail = "call GUID " + a.CallGUID
		case a.ErrorKind != "":
			s.Detail = a.ErrorKind + ": " + a.Error
		default:
			s.Detail = a.Error
		}
		steps = append(steps, s)
	}
	for _, rd := range ev.Redials {
		steps = append(steps, step{At: rd.At, What: "redial requested", Detail: "by " + rd.Client})
	}
	steps = append(steps, callSteps(ev)...)
	slices.SortStableFunc(steps, func(a, b step) int { return a.At.Compare(b.At) })
	last := step{At: ev.UpdatedAt, What: "now", State: ev.State, Detail: ev.Error}
	if ev.State.Final() {
		last.What = "final"
	}
	if ev.CallGUID != "" {
		last.Detail = "call GUID " + ev.CallGUID
	}
	if ev.DueAt != nil && !ev.State.Final() {
		last.Detail = "due at " + when(*ev.DueAt)
	}
	return append(steps, last)
}

// callSteps are what uContact said of the call (see store.Call).
func callSteps(ev *store.Event) []step {
	c := ev.Call
	if c == nil {
		return nil
	}
	var out []step
	if c.FinishedAt != nil {
		out = append(out, step{At: *c.FinishedAt, What: "uContact: interaction finished", State: store.Completed, Detail: fieldsText(c.Interaction)})
	}
	if len(c.Disposition) > 0 {
		out = append(out, step{At: ev.UpdatedAt, What: "uContact: disposition", Detail: fieldsText(c.Disposition)})
	}
	if c.AgentNoAnswer {
		d := "the agent did not pick up"
		if c.Requeued {
			d += "; the lead was queued again (once)"
		}
		out = append(out, step{At: ev.UpdatedAt, What: "uContact: agent ring no answer", State: store.AgentNoAnswer, Detail: d})
	}
	return out
}

// fieldsText writes uContact's fields as "name: value" pairs, by name.
func fieldsText(m map[string]any) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %v", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// paramRows lines up the parameters recorded with those the current
// configuration maps (nil: no trail).
func paramRows(rec ucontact.Params, mapped *ucontact.Params) []paramRow {
	out := make([]paramRow, 0, len(ucontact.Names))
	for _, n := range ucontact.Names {
		row := paramRow{Name: n, Recorded: rec.Get(n)}
		if mapped != nil {
			row.Mapped, row.HasMapped = mapped.Get(n), true
			row.Differs = row.Mapped != row.Recorded
		}
		out = append(out, row)
	}
	return out
}

// Why an event cannot be redialed, as the admin API says it.
const (
	notRedialable = "Its mapping failed, so it has no complete call parameters. Fix the data or the mapping and send the event again " +
		"(same event id): it is mapped again and, if it maps now, dialed once. Or replay it after fixing the mapping."
)

// onlyFinalFailures says the store's redial rule as a sentence, with the
// event's state.
func onlyFinalFailures(s store.State) string {
	return strings.ToUpper(store.RedialRule[:1]) + store.RedialRule[1:] + "; this one is " + string(s) + "."
}

func redialNote(ev *store.Event) string {
	err := store.RedialableEvent(ev)
	switch {
	case errors.Is(err, store.ErrNotRedialable):
		return notRedialable
	case err != nil:
		return onlyFinalFailures(ev.State)
	}
	return ""
}

func (c *Console) replayNote(ev *store.Event, src *SourceInfo) string {
	switch {
	case ev.Request == nil:
		return "The request of this event was not kept (it is older than inspect.retention, or was received before requests were kept)."
	case src == nil || src.Source == nil:
		return "Source " + ev.Source + " is no longer configured."
	case c.replayer == nil:
		return "Replay is not available in this build."
	}
	return ""
}
