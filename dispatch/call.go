package dispatch

// One call: begin (queued → dialing), AgentCall, record the outcome.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"dialhook/store"
	"dialhook/ucontact"
)

// Handle processes one delivery: begin, dial, finish.
func (d *Dispatcher) Handle(ctx context.Context, dl store.Delivery) {
	// Take a uContact slot before the event becomes dialing: an event must
	// not sit in dialing while it waits, or a slow queue could see it
	// reclaimed as unknown before its call is even sent.
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return // still pending: another replica takes it over
	}
	defer func() { <-d.sem }()
	d.handle(ctx, dl)
}

// handle is Handle for a caller that holds a slot.
func (d *Dispatcher) handle(ctx context.Context, dl store.Delivery) {
	dl.Token = uuid.NewString()
	ev, res, err := d.begin(ctx, dl)
	if err != nil {
		// The entry stays pending and is reclaimed later; nothing was dialed.
		d.log.Debug("begin dial", zap.String("event_id", dl.EventID), zap.Error(err))
		return
	}
	if res == store.NeedsEnrich {
		if ev, res, err = d.enrich(ctx, dl, ev); err != nil {
			return
		}
	}
	switch res {
	case store.Skip, store.Busy, store.NeedsEnrich:
		return
	case store.Interrupted:
		d.m.Interrupts.Inc()
		d.log.Error("call outcome unknown: the worker dialing this event stopped mid-call; not dialed again (POST /events/{id}/redial to dial deliberately)",
			zap.String("event_id", ev.ID), zap.String("source", ev.Source), zap.Int("attempt", ev.Attempts))
		return
	}
	d.dial(ctx, dl, ev)
}

// enrich fetches what the event's record lacks, records the result and,
// when the event can go on, begins it again (now with its parameters).
func (d *Dispatcher) enrich(ctx context.Context, dl store.Delivery, ev *store.Event) (*store.Event, store.BeginResult, error) {
	var out store.Enrichment
	if d.o.Enricher == nil {
		out = store.Enrichment{State: store.Rejected, ErrorKind: "enrich_failed", Error: "no enricher is configured for this event"}
	} else {
		out = d.o.Enricher.Enrich(ctx, ev)
	}
	if ev.Dial != nil && ev.Dial.Mode == store.DialDialerTask {
		// The dialer picks the agent (as intake's plan says): no pacing slot.
		out.Params.Agent, out.Params.Phone = "", ""
	}
	log := d.log.With(zap.String("event_id", ev.ID), zap.String("source", ev.Source), zap.String("need", ev.Enrich.Need))
	_, err := d.q.Enriched(ctx, dl, ev, out, d.o.Now())
	for wait := 100 * time.Millisecond; errors.Is(err, store.ErrUnavailable) && ctx.Err() == nil && wait < 10*time.Second; wait *= 2 {
		d.down.Failed("recording an enrichment", err)
		sleep(ctx, wait)
		_, err = d.q.Enriched(ctx, dl, ev, out, d.o.Now())
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		// Recorded already (an answer lost in a timeout) or changed meanwhile: Begin tells.
	case err != nil:
		log.Error("enrichment could not be recorded; the entry is taken over later", zap.Error(err))
		return nil, store.Skip, err
	}
	switch {
	case out.State == store.Queued && out.DueAt.IsZero():
		log.Info("enriched", zap.String("destination", out.Params.Destination))
		return d.begin(ctx, dl)
	case out.State == store.Queued:
		log.Warn("enrichment failed; trying again later", zap.String("error", out.Error), zap.Time("retry_at", out.DueAt))
	default:
		log.Warn("enrichment ended the event", zap.String("state", string(out.State)), zap.String("error_kind", out.ErrorKind), zap.String("error", out.Error))
	}
	return ev, store.Skip, nil
}

// begin is Store.Begin, asked again with the same token while the store is
// unreachable or full, for as long as that lasts: a Begin whose answer was
// lost may have made the event dialing, and only the same token lets it
// answer Dial instead of finding its own write as an interrupted call; out
// of memory nothing was written. Asking again here, rather than leaving
// the entry pending until it is reclaimed after claim_idle, dials it as
// soon as the store is back. Before each new try the worker keeps its
// entry (Store.Keep): no reclaim takes it over meanwhile, and once it is
// no longer its own (acknowledged, or taken over after an outage longer
// than claim_idle) it stops: another worker begins it, never two.
func (d *Dispatcher) begin(ctx context.Context, dl store.Delivery) (*store.Event, store.BeginResult, error) {
	for {
		ev, res, err := d.q.Begin(ctx, dl, d.o.DialTimeout+5*time.Second, d.o.Now())
		switch {
		case err == nil && res == store.Dial:
			d.down.OK() // the event was written dialing: memory is back
			return ev, res, nil
		case err == nil:
			// Skip, Busy, Interrupted or NeedsEnrich: a read, or a write
			// that needs no memory (XACK): Redis out of memory runs those.
			d.down.Answered("beginning a call")
			return ev, res, nil
		case !errors.Is(err, store.ErrUnavailable):
			d.log.Error("begin dial", zap.String("event_id", dl.EventID), zap.Error(err))
			return nil, store.Skip, err
		}
		sleep(ctx, d.retryPause(d.down.Failed("beginning a call", err)))
		if mine, err := d.keep(ctx, dl); !mine {
			return nil, store.Skip, err
		}
	}
}

// keep is Store.Keep, asked again while the store is unreachable: true
// when the entry is still this worker's (and fresh again).
func (d *Dispatcher) keep(ctx context.Context, dl store.Delivery) (bool, error) {
	for ctx.Err() == nil {
		mine, err := d.q.Keep(ctx, dl)
		switch {
		case err == nil && !mine:
			d.log.Debug("begin dial: the entry is no longer this worker's", zap.String("event_id", dl.EventID))
			return false, nil
		case err == nil:
			return true, nil
		case !errors.Is(err, store.ErrUnavailable):
			d.log.Error("keep a queue entry", zap.String("event_id", dl.EventID), zap.Error(err))
			return false, err
		}
		sleep(ctx, d.retryPause(d.down.Failed("keeping a queue entry", err)))
	}
	return false, ctx.Err()
}

// beginRetryMax bounds the outage's pause between two tries of one
// begin: an entry read before the outage is begun within about this long
// once the store is back. A try is two cheap commands (Keep, Begin), one
// per call slot held.
const beginRetryMax = time.Second

// retryPause is the outage's pause, bounded by beginRetryMax and by a
// quarter of claim_idle (the entry is kept well before it would be
// reclaimed).
func (d *Dispatcher) retryPause(pause time.Duration) time.Duration {
	return min(pause, beginRetryMax, d.o.ClaimIdle/4)
}

// dial places the call of an event that Begin made dialing and records
// its outcome.
func (d *Dispatcher) dial(ctx context.Context, dl store.Delivery, ev *store.Event) {
	if d.blocked(ctx, dl, ev) {
		return
	}
	start := time.Now()
	var ans answer
	var err error
	if ctx.Err() == nil {
		ans, err = d.place(ctx, ev)
	} else {
		err = fmt.Errorf("%w: shutting down before the call", ucontact.ErrConnect)
	}
	lat := time.Since(start)
	out := d.outcome(ev, ans, err)
	d.m.DialTime.Observe(lat.Seconds())
	kind := "ok"
	if err != nil {
		kind = ucontact.Classify(err)
		if outcomeUnknown(err) {
			d.m.Interrupts.Inc() // every unknown outcome, retried ones included
		}
	}
	d.m.Dials.WithLabelValues(kind).Inc()
	d.last.note(time.Now(), kind, err)

	fields := []zap.Field{zap.String("event_id", ev.ID), zap.String("source", ev.Source), zap.Int("attempt", ev.Attempts),
		zap.String("state", string(out.State)), zap.Duration("latency", lat)}
	if out.CallGUID != "" {
		fields = append(fields, zap.String("call_guid", out.CallGUID), zap.Bool("dry_run", d.o.DryRun))
	}
	if out.State == store.HandedOff {
		fields = append(fields, zap.String("dialer_answer", out.DialerAnswer), zap.Bool("dry_run", d.o.DryRun))
	}
	if err != nil {
		fields = append(fields, zap.String("error_kind", kind), zap.Error(err))
	}
	if !out.DueAt.IsZero() {
		fields = append(fields, zap.Time("retry_at", out.DueAt))
	}
	if ferr := d.record(ctx, dl, ev, out); ferr != nil {
		// The call was made but its outcome could not be written: the entry
		// stays pending; when reclaimed it is found dialing → unknown.
		d.log.Error("dial finished but the outcome could not be recorded", append(fields, zap.NamedError("store_error", ferr))...)
		return
	}
	switch out.State {
	case store.Placed, store.HandedOff:
		d.log.Info("dial", fields...)
	case store.Failed:
		d.log.Error("dial", fields...)
	default: // rejected by uContact, unknown, or waiting for a retry
		d.log.Warn("dial", fields...)
	}
}

// record writes a call's outcome, even when shutting down (the call is
// done). While the store is unreachable it asks again, with the same token
// (Finish is then idempotent), rather than let the event end unknown.
func (d *Dispatcher) record(ctx context.Context, dl store.Delivery, ev *store.Event, out store.Outcome) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(10*time.Second, d.o.ClaimIdle/2))
	defer cancel()
	_, err := d.q.Finish(fctx, dl, ev, out, d.o.Now())
	for wait := 100 * time.Millisecond; errors.Is(err, store.ErrUnavailable) && fctx.Err() == nil; wait = min(2*wait, 2*time.Second) {
		d.down.Failed("recording a call's outcome", err)
		sleep(fctx, wait)
		_, err = d.q.Finish(fctx, dl, ev, out, d.o.Now())
	}
	if err == nil {
		// Finish begins with XACK, after which Redis lets a script write
		// even out of memory: its answer does not say memory is back.
		d.down.Answered("recording a call's outcome")
	}
	return err
}

// outcome turns uContact's answer (AgentCall's, or DialerTask's) into the
// next state.
func (d *Dispatcher) outcome(ev *store.Event, ans answer, err error) store.Outcome {
	out := store.Outcome{Agent: ev.Params.Agent, MinGap: d.o.MinGap}
	switch {
	case err == nil && ans.handedOff:
		out.State, out.DialerAnswer, out.DryRun = store.HandedOff, ans.raw, d.o.DryRun
		return out
	case err == nil:
		out.State, out.CallGUID, out.DryRun = store.Placed, ans.guid.String(), d.o.DryRun
		return out
	}
	out.Error, out.ErrorKind = err.Error(), ucontact.Classify(err)
	switch {
	case errors.Is(err, ucontact.ErrRejected):
		out.State = store.Rejected
	case ucontact.Retryable(err):
		out.State = store.Failed
		if ev.Attempts < d.o.RetryMax {
			out.State, out.DueAt = store.Queued, d.retryAt(ev, err)
		}
	case errors.Is(err, ucontact.ErrOutcomeUnknown):
		out.State = store.Unknown
		if d.o.RetryUnknown && ev.Attempts < d.o.RetryMax {
			out.State, out.DueAt = store.Queued, d.retryAt(ev, err)
		}
	case outcomeUnknown(err):
		out.State = store.Unknown
	default:
		out.State = store.Failed
	}
	return out
}

// outcomeUnknown reports whether, after err, the call may exist: the
// request may have reached uContact (timeout, connection lost after
// sending), or uContact answered a 2xx that is neither a GUID nor 0.
func outcomeUnknown(err error) bool {
	var ua *ucontact.UnexpectedAnswerError
	return errors.Is(err, ucontact.ErrOutcomeUnknown) || (errors.As(err, &ua) && ua.Status >= 200 && ua.Status < 300)
}

// retryAt is exponential backoff with full jitter, at least Retry-After,
// moved into the source's call window.
func (d *Dispatcher) retryAt(ev *store.Event, err error) time.Time {
	ceil := d.o.RetryBase << min(ev.Attempts-1, 20)
	ceil = min(ceil, d.o.RetryCap)
	wait := time.Duration(rand.Int64N(int64(ceil) + 1))
	var se *ucontact.StatusError
	if errors.As(err, &se) && se.RetryAfter > wait {
		wait = min(se.RetryAfter, d.o.RetryCap)
	}
	at := d.o.Now().Add(wait)
	if d.o.Window != nil {
		if next := d.o.Window(ev.Source, ev.Params.Destination).Next(at); !next.IsZero() {
			at = next
		}
	}
	return at
}

// lister is the store's do-not-call check right before a call.
type lister interface {
	Listed(ctx context.Context, number string) (*store.DNCEntry, error)
}

// blocked ends, without a call, an event whose destination was put on the
// do-not-call list while it waited in the queue. A store that cannot
// answer does not stop the call: the list was checked when the event was
// accepted.
func (d *Dispatcher) blocked(ctx context.Context, dl store.Delivery, ev *store.Event) bool {
	l, ok := d.q.(lister)
	if !ok {
		return false
	}
	e, err := l.Listed(ctx, ev.Params.Destination)
	if err != nil || e == nil {
		return false
	}
	out := store.Outcome{State: store.Blocked, Agent: ev.Params.Agent,
		Error: "the destination " + e.Number + " was put on the do-not-call list at " + e.AddedAt.UTC().Format(time.RFC3339) + ", before its call"}
	if err := d.record(ctx, dl, ev, out); err != nil {
		d.log.Error("blocked before the call but the outcome could not be recorded", zap.String("event_id", ev.ID), zap.Error(err))
		return true
	}
	d.m.Rules.WithLabelValues("do_not_call", "before_call").Inc()
	d.log.Warn("dial", zap.String("event_id", ev.ID), zap.String("source", ev.Source), zap.String("state", string(store.Blocked)),
		zap.String("reason", "do-not-call list"))
	return true
}
