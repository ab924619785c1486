// Package dispatch places the calls: workers take events from the store's
// queue, move each to dialing before AgentCall and record the outcome after.
//
// The promise is at most one AgentCall per event: a retry happens only when
// uContact cannot have placed the call (connection refused, 408/429/5xx),
// and an event found already dialing after a crash becomes unknown instead
// of being dialed again.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"dialhook/metrics"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/ucontact"
)

// Dialer places one AgentCall.
type Dialer interface {
	AgentCall(ctx context.Context, p ucontact.Params) (uuid.UUID, error)
}

// Queue is what the dispatcher needs of the store.
type Queue interface {
	Next(ctx context.Context, consumer string, block time.Duration) ([]store.Delivery, error)
	Reclaim(ctx context.Context, consumer string, idle time.Duration) ([]store.Delivery, error)
	Begin(ctx context.Context, d store.Delivery, hold time.Duration, now time.Time) (*store.Event, store.BeginResult, error)
	Finish(ctx context.Context, d store.Delivery, ev *store.Event, out store.Outcome, now time.Time) (*store.Event, error)
	Promote(ctx context.Context, now time.Time) (int, error)
}

// DryRun is the Dialer used when no uContact is configured: it places no
// call and returns a fresh GUID.
type DryRun struct{}

// AgentCall implements Dialer.
func (DryRun) AgentCall(ctx context.Context, p ucontact.Params) (uuid.UUID, error) {
	return uuid.New(), nil
}

// Options configure a Dispatcher.
type Options struct {
	Workers      int
	Concurrency  int           // requests in flight to uContact, per replica
	ClaimIdle    time.Duration // entries idle this long are taken over from dead consumers
	RetryMax     int           // attempts in all, the first included
	RetryUnknown bool
	RetryBase    time.Duration // first backoff step (default 1s)
	RetryCap     time.Duration // longest backoff (default 5m)
	DialTimeout  time.Duration // the uContact timeout: how long an agent's pacing slot is held at most
	MinGap       time.Duration // between two calls of one agent
	DryRun       bool
	Windows      map[string]*schedule.Window // by source; retries wait for the window
	Consumer     string                      // this replica's name in the consumer group
	Poll         time.Duration               // how often due events are promoted (default 250ms)
	Now          func() time.Time
}

// Dispatcher runs the workers of one replica.
type Dispatcher struct {
	q      Queue
	dialer Dialer
	log    *zap.Logger
	m      *metrics.Metrics
	o      Options
	sem    chan struct{}
}

// New returns a Dispatcher; Run starts it.
func New(q Queue, dialer Dialer, log *zap.Logger, m *metrics.Metrics, o Options) *Dispatcher {
	if o.Workers < 1 {
		o.Workers = 8
	}
	if o.Concurrency < 1 {
		o.Concurrency = 16
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = time.Minute
	}
	if o.RetryMax < 1 {
		o.RetryMax = 5
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryCap <= 0 {
		o.RetryCap = 5 * time.Minute
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 15 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Consumer == "" {
		host, _ := os.Hostname()
		o.Consumer = host + "-" + strconv.Itoa(os.Getpid()) + "-" + uuid.NewString()[:8]
	}
	return &Dispatcher{q: q, dialer: dialer, log: log, m: m, o: o, sem: make(chan struct{}, o.Concurrency)}
}

// Run works until ctx is cancelled: it then stops taking new entries and
// returns once the calls in flight are finished. Calls in flight use dialCtx,
// which the caller cancels when the shutdown timeout is over.
//
// Workers read the queue; each call runs in a goroutine of its own holding
// one of Concurrency slots, so a slow uContact is limited by the slots, not
// by the number of workers.
func (d *Dispatcher) Run(ctx, dialCtx context.Context) {
	var wg, calls sync.WaitGroup
	for i := 0; i < d.o.Workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d.work(ctx, dialCtx, fmt.Sprintf("%s-%d", d.o.Consumer, i), &calls)
		}(i)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.housekeep(ctx, dialCtx)
	}()
	wg.Wait()
	calls.Wait()
}

// work is one worker's loop. It takes a slot before reading an entry, so
// that no entry waits in this process for a slot after being read.
func (d *Dispatcher) work(ctx, dialCtx context.Context, consumer string, calls *sync.WaitGroup) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		ds, err := d.q.Next(ctx, consumer, 2*time.Second)
		if err != nil || len(ds) == 0 {
			<-d.sem
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("queue unavailable; retrying", zap.String("consumer", consumer), zap.Error(err), zap.Duration("backoff", backoff))
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		calls.Add(1)
		go func() {
			defer calls.Done()
			defer func() { <-d.sem }()
			for _, dl := range ds {
				d.handle(dialCtx, dl)
			}
		}()
	}
}

// housekeep promotes due events and takes over entries of dead consumers.
func (d *Dispatcher) housekeep(ctx, dialCtx context.Context) {
	tick := time.NewTicker(d.o.Poll)
	defer tick.Stop()
	reclaimEvery := max(d.o.ClaimIdle/2, d.o.Poll)
	lastReclaim := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := d.q.Promote(ctx, d.o.Now()); err != nil && ctx.Err() == nil {
			d.log.Warn("promote due events", zap.Error(err))
		}
		if time.Since(lastReclaim) < reclaimEvery {
			continue
		}
		lastReclaim = time.Now()
		ds, err := d.q.Reclaim(ctx, d.o.Consumer+"-reclaim", d.o.ClaimIdle)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("reclaim", zap.Error(err))
			}
			continue
		}
		for _, dl := range ds {
			d.Handle(dialCtx, dl)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

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
	ev, res, err := d.q.Begin(ctx, dl, d.o.DialTimeout+5*time.Second, d.o.Now())
	if err != nil {
		// The entry stays pending and is reclaimed later; nothing was dialed.
		d.log.Warn("begin dial", zap.String("event_id", dl.EventID), zap.Error(err))
		return
	}
	switch res {
	case store.Skip, store.Busy:
		return
	case store.Interrupted:
		d.m.Interrupts.Inc()
		d.log.Error("call outcome unknown: the worker dialing this event stopped mid-call; not dialed again (POST /events/{id}/redial to dial deliberately)",
			zap.String("event_id", ev.ID), zap.String("source", ev.Source), zap.Int("attempt", ev.Attempts))
		return
	}

	start := time.Now()
	var guid uuid.UUID
	if ctx.Err() == nil {
		guid, err = d.dialer.AgentCall(ctx, ev.Params)
	} else {
		err = fmt.Errorf("%w: shutting down before the call", ucontact.ErrConnect)
	}
	lat := time.Since(start)
	out := d.outcome(ev, guid, err)
	d.m.DialTime.Observe(lat.Seconds())
	kind := "ok"
	if err != nil {
		kind = ucontact.Classify(err)
	}
	d.m.Dials.WithLabelValues(kind).Inc()

	// Record the outcome even when shutting down: the call is done.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	final, ferr := d.q.Finish(fctx, dl, ev, out, d.o.Now())
	// The call is made and its outcome known: while the store is unreachable
	// (Redis restarting), keep trying rather than let the event end unknown.
	for wait := 100 * time.Millisecond; errors.Is(ferr, store.ErrUnavailable) && fctx.Err() == nil; wait = min(2*wait, time.Second) {
		sleep(fctx, wait)
		final, ferr = d.q.Finish(fctx, dl, ev, out, d.o.Now())
	}
	fields := []zap.Field{zap.String("event_id", ev.ID), zap.String("source", ev.Source), zap.Int("attempt", ev.Attempts),
		zap.String("state", string(out.State)), zap.Duration("latency", lat)}
	if out.CallGUID != "" {
		fields = append(fields, zap.String("call_guid", out.CallGUID), zap.Bool("dry_run", d.o.DryRun))
	}
	if err != nil {
		fields = append(fields, zap.String("error_kind", kind), zap.Error(err))
	}
	if !out.DueAt.IsZero() {
		fields = append(fields, zap.Time("retry_at", out.DueAt))
	}
	if ferr != nil {
		// The call was made but its outcome could not be written: the entry
		// stays pending; when reclaimed it is found dialing → unknown.
		d.log.Error("dial finished but the outcome could not be recorded", append(fields, zap.NamedError("store_error", ferr))...)
		return
	}
	if final != nil && out.State == store.Unknown {
		d.m.Interrupts.Inc()
	}
	d.log.Info("dial", fields...)
}

// outcome turns the answer of AgentCall into the next state.
func (d *Dispatcher) outcome(ev *store.Event, guid uuid.UUID, err error) store.Outcome {
	out := store.Outcome{Agent: ev.Params.Agent, MinGap: d.o.MinGap}
	if err == nil {
		out.State, out.CallGUID, out.DryRun = store.Placed, guid.String(), d.o.DryRun
		return out
	}
	out.Error, out.ErrorKind = err.Error(), ucontact.Classify(err)
	var ua *ucontact.UnexpectedAnswerError
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
	case errors.As(err, &ua) && ua.Status >= 200 && ua.Status < 300:
		// uContact took the request and answered something that is neither
		// a GUID nor 0: the call may exist.
		out.State = store.Unknown
	default:
		out.State = store.Failed
	}
	return out
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
	if w := d.o.Windows[ev.Source]; w != nil {
		if next := w.Next(at); !next.IsZero() {
			at = next
		}
	}
	return at
}
