package intake

import (
	"context"
	"errors"
	"time"

	"dialhook/crm"
	"dialhook/store"
)

// Errors of Replay.
var (
	// ErrNoRequest: the event's request was not kept (the console was off,
	// or it is older than inspect.retention).
	ErrNoRequest = errors.New("the request of this event was not kept")
	// ErrTruncated: the stored body was cut at inspect.max_body; running it
	// again would not be the same webhook.
	ErrTruncated = errors.New("the stored body was cut at inspect.max_body, so it cannot be replayed")
	// ErrNotInRequest: the request, mapped today, no longer holds an event
	// with this one's dedup key.
	ErrNotInRequest = errors.New("the stored request no longer carries this event")
)

// Replay runs ev's stored request through src's current configuration
// (parse, mapping, call window, cooldown) as a new event, and records it:
// what an admin does after fixing a mapping. It is not authenticated again
// (the stored credentials are masked, and a signature would be past its
// replay window): the request was verified when it arrived, and replaying
// is an admin's action. The new event holds no dedup claim (it would be a
// duplicate of ev), names ev in ReplayOf, and keeps ev's request.
func (p *Pipeline) Replay(ctx context.Context, src *Source, ev *store.Event, now time.Time) (*store.Event, error) {
	if ev.Request == nil {
		return nil, ErrNoRequest
	}
	if ev.Request.Truncated {
		return nil, ErrTruncated
	}
	req, err := rebuild(ev.Request, now)
	if err != nil {
		return nil, err
	}
	batch, err := src.Adapter.Parse(req)
	if err != nil {
		return nil, adapterError(src, req, err)
	}
	plans := src.plan(batch.Events, now, p.dedup, false, func(string) string { return "" })
	pick := -1
	for i, pl := range plans {
		if pl.Submission.Event.DedupKey == ev.DedupKey || len(plans) == 1 {
			pick = i
		}
	}
	if pick < 0 {
		return nil, ErrNotInRequest
	}
	sub := plans[pick].Submission
	e := *sub.Event
	e.ID, e.ReplayOf, e.Request = p.newID(ev.ID+":replay:"+now.String()), ev.ID, ev.Request
	sub.Event, sub.DedupKey = &e, ""
	acc, err := p.accept(ctx, []Planned{{Submission: sub}})
	if err != nil {
		return nil, err
	}
	return acc[0].Event, nil
}

// rebuild makes a crm.Request of a stored one.
func rebuild(r *store.Request, now time.Time) (*crm.Request, error) {
	return crm.RequestOf(r.Method, r.Path, r.Headers, []byte(r.Body), now)
}
