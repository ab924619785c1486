// Package intake is the webhook pipeline without HTTP: authenticate, parse,
// plan (map, schedule, dedup key) and accept (record atomically). The HTTP
// handler, `dialhook map` and the console all go through it.
//
// It must not: import net/http servers, Echo or go-redis (it talks to the
// store through a small interface and to senders through crm.Request);
// dial (the dispatcher does); or answer in a sender's dialect (status codes
// and SOAP are the handler's).
package intake

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"dialhook/crm"
	"dialhook/store"
)

// Store is what intake needs of the store.
type Store interface {
	NewEventID(dedupKey string) string
	Accept(ctx context.Context, subs []store.Submission) ([]store.Accepted, error)
	Lookup(ctx context.Context, dedupKey string) (*store.Event, error)
	RecordCallEvent(ctx context.Context, ce store.CallEvent) (*store.Event, store.CallResult, error)
}

// Pipeline receives webhooks for any source.
type Pipeline struct {
	store     Store
	dedup     time.Duration
	storeWait time.Duration
	// keepBody, when at least 0, keeps each recorded event's request (see
	// Capture) with this much of its body; -1 keeps none.
	keepBody int
}

// NewPipeline returns a Pipeline that records into st; dedup is the dedup
// window, storeWait bounds the store's answer (0: 2s).
func NewPipeline(st Store, dedup, storeWait time.Duration) *Pipeline {
	if dedup <= 0 {
		dedup = 24 * time.Hour
	}
	if storeWait <= 0 {
		storeWait = 2 * time.Second
	}
	return &Pipeline{store: st, dedup: dedup, storeWait: storeWait, keepBody: -1}
}

// KeepRequests makes the pipeline record each event's request as received
// (secrets masked, the body up to maxBody bytes) with the event, for the
// console.
func (p *Pipeline) KeepRequests(maxBody int) { p.keepBody = max(maxBody, 0) }

// Result is what Receive did with one request.
type Result struct {
	// Ignored, when not empty, says why the request was acknowledged
	// without any event (e.g. "pipedrive delete event").
	Ignored string
	// Plans are the events the request carried, as planned.
	Plans []Planned
	// Answers are the recorded events, one per plan (nil for a dry run).
	Answers []Answer
	// Call, for a ucontact source, is what the uContact event did.
	Call *CallAnswer
}

// Receive authenticates req as src's kind, parses it, plans its events and,
// unless dryRun, records them. A failure is an *Error.
func (p *Pipeline) Receive(ctx context.Context, src *Source, req *crm.Request, dryRun bool) (*Result, error) {
	if err := src.Adapter.Authenticate(req); err != nil {
		return nil, adapterError(src, req, err)
	}
	if src.Adapter.Kind() == UContactKind {
		if dryRun {
			return &Result{Ignored: "a dry run of a uContact event records nothing"}, nil
		}
		return p.receiveCall(ctx, src, req)
	}
	return p.parseAndPlan(ctx, src, req, dryRun)
}

// Explain parses and plans req without authenticating it and without
// recording anything: `dialhook map`, whose payload comes from a file.
func (p *Pipeline) Explain(ctx context.Context, src *Source, req *crm.Request) (*Result, error) {
	return p.parseAndPlan(ctx, src, req, true)
}

func (p *Pipeline) parseAndPlan(ctx context.Context, src *Source, req *crm.Request, dryRun bool) (*Result, error) {
	batch, err := src.Adapter.Parse(req)
	if err != nil {
		return nil, adapterError(src, req, err)
	}
	if batch.Ignored != "" {
		return &Result{Ignored: batch.Ignored}, nil
	}
	res := &Result{Plans: src.plan(batch.Events, req.Now, p.dedup, dryRun, p.newID)}
	if dryRun {
		p.lookup(ctx, res.Plans)
		return res, nil
	}
	if p.keepBody >= 0 {
		captured := Capture(src, req, p.keepBody)
		captured.Verified = src.Adapter.Scheme(req)
		if src.Unauthenticated {
			captured.Verified = "not authenticated: no credential is configured for this source"
		}
		for _, pl := range res.Plans {
			pl.Submission.Event.Request = captured
		}
	}
	acc, err := p.accept(ctx, res.Plans)
	if err != nil {
		return nil, err
	}
	res.Answers = make([]Answer, len(acc))
	for i, a := range acc {
		res.Answers[i] = answerFor(a, res.Plans[i].Submission.Event)
	}
	return res, nil
}

// newID is the store's id for a new event with this dedup key (a random
// UUID without a store).
func (p *Pipeline) newID(dedupKey string) string {
	if p.store == nil {
		return uuid.NewString()
	}
	return p.store.NewEventID(dedupKey)
}

// lookup notes, for a dry run, which planned events are already recorded
// (a redelivery). Without a store (dialhook map), or when the store does
// not answer, nothing is noted.
func (p *Pipeline) lookup(ctx context.Context, plans []Planned) {
	if p.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.storeWait)
	defer cancel()
	dnc, _ := p.store.(store.DNC)
	for i := range plans {
		if e, err := p.store.Lookup(ctx, plans[i].Submission.DedupKey); err == nil {
			plans[i].Existing = e
		}
		if sub := &plans[i].Submission; dnc != nil && sub.Destination != "" && sub.Event.State == store.Queued {
			if e, err := dnc.DNCGet(ctx, sub.Destination); err == nil {
				plans[i].Rules = append(plans[i].Rules, "blocked: "+e.Number+" is on the do-not-call list since "+e.AddedAt.UTC().Format(time.RFC3339))
			}
		}
	}
}

// accept records the planned events, waiting at most storeWait.
func (p *Pipeline) accept(ctx context.Context, plans []Planned) ([]store.Accepted, error) {
	subs := make([]store.Submission, len(plans))
	for i, pl := range plans {
		subs[i] = pl.Submission
	}
	ctx, cancel := context.WithTimeout(ctx, p.storeWait)
	defer cancel()
	acc, err := p.store.Accept(ctx, subs)
	switch {
	case err == nil:
		return acc, nil
	case errors.Is(err, store.ErrQueueFull):
		return nil, &Error{Kind: QueueFull, Msg: "the call queue is full; retry later", Err: err}
	case errors.Is(err, store.ErrFull):
		why := "the store is out of memory"
		if mf := (*store.MemoryFull)(nil); errors.As(err, &mf) {
			why = mf.Error()
		}
		return nil, &Error{Kind: StoreFull, Msg: why + "; the event was not recorded; retry later", Err: err}
	case errors.Is(err, store.ErrUnavailable):
		return nil, &Error{Kind: StoreUnavailable, Msg: "the event could not be recorded; retry later", Err: err}
	}
	// Not an outage: a retry gets the same answer (a script error, a
	// CROSSSLOT, a wrong type). Said as such, not as "retry later".
	return nil, &Error{Kind: StoreFailed, Msg: "internal error: the store refused the event", Err: err}
}
