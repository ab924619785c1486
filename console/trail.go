package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"dialhook/crm"
	"dialhook/intake"
	"dialhook/store"
	"dialhook/ucontact"
)

// mappedView is one event as a mapping dry run explains it.
type mappedView struct {
	State       store.State
	Kind        string
	ObjectType  string
	RecordID    string
	Action      string
	DedupKey    string
	Record      string // the normalized record, pretty-printed
	Params      *ucontact.Params
	DueAt       *time.Time
	Decisions   []string
	Warnings    []string
	Errors      map[string]string
	Fetch       string
	Reason      string
	DuplicateOf *intake.DuplicateOf
	Supersedes  string
	Matches     bool // the trail's: this is the event the page shows
}

func (c *Console) mapped(d intake.DryRunEvent) mappedView {
	m := mappedView{State: d.State, Kind: d.Normalized.Kind, ObjectType: d.Normalized.ObjectType,
		RecordID: d.Normalized.RecordID, Action: d.Normalized.Action, DedupKey: d.DedupKey, DueAt: d.DueAt,
		Fetch: d.Fetch, Reason: c.scrub(d.Reason), DuplicateOf: d.DuplicateOf, Supersedes: d.Supersedes}
	var pretty bytes.Buffer
	if json.Indent(&pretty, d.Normalized.Record, "", "  ") == nil {
		m.Record = c.scrub(pretty.String())
	}
	if p, ok := d.Params.(ucontact.Params); ok {
		m.Params = &p
	}
	for _, s := range d.Decisions {
		m.Decisions = append(m.Decisions, c.scrub(s))
	}
	for _, s := range d.Warnings {
		m.Warnings = append(m.Warnings, c.scrub(s))
	}
	if len(d.Errors) > 0 {
		m.Errors = map[string]string{}
		for k, v := range d.Errors {
			m.Errors[k] = c.scrub(v)
		}
	}
	return m
}

// trailView is the stored request mapped again by the current
// configuration.
type trailView struct {
	Note      string // why there is no trail
	Error     string // the stored request does not parse now
	Ignored   string
	Truncated bool
	Events    []mappedView
	Params    *ucontact.Params // the shown event's, for the comparison
}

// trail runs ev's stored request through the current configuration's
// mapping, recording and dialing nothing.
func (c *Console) trail(ctx context.Context, ev *store.Event, src *SourceInfo) trailView {
	switch {
	case ev.Request == nil:
		return trailView{Note: "The request of this event was not kept (it is older than inspect.retention, or was received before requests were kept), so it cannot be mapped again."}
	case src == nil || src.Source == nil:
		return trailView{Note: "Source " + ev.Source + " is no longer configured, so its request cannot be mapped again."}
	}
	t := trailView{Truncated: ev.Request.Truncated}
	res, err := c.explain.Explain(ctx, src.Source, rebuild(ev.Request, ev.ReceivedAt))
	if err != nil {
		t.Error = c.explainError(err)
		return t
	}
	if res.Ignored != "" {
		t.Ignored = res.Ignored
		return t
	}
	for i := range res.Plans {
		res.Plans[i].Existing = nil // recorded, of course: as this very event
	}
	view := intake.View(src.Source, src.Source.Adapter.Kind(), res.Plans)
	for _, d := range view.Events {
		m := c.mapped(d)
		m.Matches = len(view.Events) == 1 || d.DedupKey == ev.DedupKey
		if m.Matches && t.Params == nil {
			t.Params = m.Params // nil when its mapping fails now
		}
		t.Events = append(t.Events, m)
	}
	return t
}

// explainError says why a request could not be mapped, never more than
// intake tells a sender.
func (c *Console) explainError(err error) string {
	var ie *intake.Error
	if errors.As(err, &ie) {
		return c.scrub(ie.Msg)
	}
	return c.scrub(err.Error())
}

// rebuild makes the request intake maps from a stored one.
func rebuild(rq *store.Request, at time.Time) *crm.Request {
	u, err := url.ParseRequestURI(rq.Path)
	if err != nil {
		u = &url.URL{Path: rq.Path}
	}
	h := http.Header{}
	for k, v := range rq.Headers {
		h.Set(k, v)
	}
	method := rq.Method
	if method == "" {
		method = http.MethodPost
	}
	return &crm.Request{Method: method, URL: u, Host: h.Get("Host"), Header: h, Body: []byte(rq.Body), Now: at}
}
