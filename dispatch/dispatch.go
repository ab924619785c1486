// Package dispatch places the calls: workers take events from the store's
// queue, move each to dialing before AgentCall and record the outcome after.
//
// The promise is at most one AgentCall per event: a retry happens only when
// uContact cannot have placed the call (connection refused, 408/429/5xx),
// and an event found already dialing after a crash becomes unknown instead
// of being dialed again.
//
// It must not: import Echo, go-redis (it reaches the store through the
// small Queue interface), intake or handlers; or know the AgentCall wire
// format (ucontact does).
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

	"dialhook/internal/outage"
	"dialhook/metrics"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/ucontact"
)

// Dialer places one AgentCall.
type Dialer interface {
	AgentCall(ctx context.Context, p ucontact.Params) (uuid.UUID, error)
}

// Enricher fetches what an event's record lacks (store.Event.Enrich) from
// the CRM and maps it again. It never dials and never writes to the store.
type Enricher interface {
	Enrich(ctx context.Context, ev *store.Event) store.Enrichment
}

// Queue is what the dispatcher needs of the store.
type Queue interface {
	Shards() int
	Next(ctx context.Context, consumer string, shard, count int, block time.Duration) ([]store.Delivery, error)
	Reclaim(ctx context.Context, consumer string, shard int, idle time.Duration) ([]store.Delivery, error)
	Begin(ctx context.Context, d store.Delivery, hold time.Duration, now time.Time) (*store.Event, store.BeginResult, error)
	Finish(ctx context.Context, d store.Delivery, ev *store.Event, out store.Outcome, now time.Time) (*store.Event, error)
	Enriched(ctx context.Context, d store.Delivery, ev *store.Event, out store.Enrichment, now time.Time) (*store.Event, error)
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
	Enricher     Enricher                    // fetches what records lack (nil: such events are rejected)
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
	down   *outage.Tracker
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
	return &Dispatcher{q: q, dialer: dialer, log: log, m: m, o: o, sem: make(chan struct{}, o.Concurrency), down: outage.New(log, "store")}
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
	for i, shards := range readerShards(d.o.Workers, d.q.Shards()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.work(ctx, dialCtx, fmt.Sprintf("%s-%d", d.o.Consumer, i), shards, &calls)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.housekeep(ctx, dialCtx)
	}()
	wg.Wait()
	calls.Wait()
}

// readerShards assigns the store's shards to workers readers: each reads
// the shards i, i+workers, …; with more readers than shards, several read
// one shard.
func readerShards(workers, shards int) [][]int {
	out := make([][]int, workers)
	for i := range out {
		if workers >= shards {
			out[i] = []int{i % shards}
			continue
		}
		for s := i; s < shards; s += workers {
			out[i] = append(out[i], s)
		}
	}
	return out
}

// readBlock is how long a worker waits on one queue for an entry: the
// whole 2s when it reads one queue, else a fifth of a second per queue, so
// that an entry in any of its queues is picked up soon.
func readBlock(queues int) time.Duration {
	if queues == 1 {
		return 2 * time.Second
	}
	return 200 * time.Millisecond
}

// readMax bounds the entries one read takes: a worker that holds n free
// call slots reads up to n entries in one XREADGROUP, so a backlog costs
// Redis one read per batch, not one per call.
const readMax = 16

// work is one worker's loop over its shards' queues. It takes a slot
// before reading an entry (and as many more as are free, up to readMax,
// to read that many), so that no entry waits in this process for a slot
// after being read.
func (d *Dispatcher) work(ctx, dialCtx context.Context, consumer string, shards []int, calls *sync.WaitGroup) {
	block := readBlock(len(shards))
	for turn := 0; ctx.Err() == nil; turn++ {
		shard := shards[turn%len(shards)]
		if pause := d.down.Wait(); pause > 0 {
			// The store is failing: do not take entries it cannot record.
			sleep(ctx, pause)
		}
		slots := d.takeSlots(ctx)
		if slots == 0 {
			return
		}
		ds, err := d.q.Next(ctx, consumer, shard, slots, block)
		d.freeSlots(slots - len(ds))
		if err != nil || len(ds) == 0 {
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			sleep(ctx, d.down.Failed("reading the queue", err))
			continue
		}
		d.down.Answered("reading the queue")
		for _, dl := range ds {
			calls.Add(1)
			go func() {
				defer calls.Done()
				defer d.freeSlots(1)
				d.handle(dialCtx, dl)
			}()
		}
	}
}

// takeSlots waits for one call slot, then takes the free ones up to
// readMax without waiting; 0 when ctx ended first.
func (d *Dispatcher) takeSlots(ctx context.Context) int {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < readMax {
		select {
		case d.sem <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (d *Dispatcher) freeSlots(n int) {
	for range n {
		<-d.sem
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
		for shard := range d.q.Shards() {
			ds, err := d.q.Reclaim(ctx, d.o.Consumer+"-reclaim", shard, d.o.ClaimIdle)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("reclaim", zap.Int("shard", shard), zap.Error(err))
				}
				break
			}
			for _, dl := range ds {
				d.Handle(dialCtx, dl)
			}
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
// unreachable or full: a Begin whose answer was lost may have made the
// event dialing, and only the same token lets it answer Dial instead of
// finding its own write as an interrupted call; out of memory nothing was
// written. Asking again here, rather than leaving the entry pending until
// it is reclaimed after claim_idle, dials it as soon as the store is back.
// It gives up after half of claim_idle (the entry is then reclaimed later).
func (d *Dispatcher) begin(ctx context.Context, dl store.Delivery) (*store.Event, store.BeginResult, error) {
	deadline := time.Now().Add(d.o.ClaimIdle / 2)
	for {
		ev, res, err := d.q.Begin(ctx, dl, d.o.DialTimeout+5*time.Second, d.o.Now())
		if err == nil {
			d.down.OK()
			return ev, res, nil
		}
		if !errors.Is(err, store.ErrUnavailable) {
			d.log.Error("begin dial", zap.String("event_id", dl.EventID), zap.Error(err))
			return nil, store.Skip, err
		}
		pause := d.down.Failed("beginning a call", err)
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, store.Skip, err
		}
		sleep(ctx, pause)
	}
}

// dial places the call of an event that Begin made dialing and records
// its outcome.
func (d *Dispatcher) dial(ctx context.Context, dl store.Delivery, ev *store.Event) {
	start := time.Now()
	var guid uuid.UUID
	var err error
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
		if outcomeUnknown(err) {
			d.m.Interrupts.Inc() // every unknown outcome, retried ones included
		}
	}
	d.m.Dials.WithLabelValues(kind).Inc()

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
	if ferr := d.record(ctx, dl, ev, out); ferr != nil {
		// The call was made but its outcome could not be written: the entry
		// stays pending; when reclaimed it is found dialing → unknown.
		d.log.Error("dial finished but the outcome could not be recorded", append(fields, zap.NamedError("store_error", ferr))...)
		return
	}
	switch out.State {
	case store.Placed:
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
		d.down.OK()
	}
	return err
}

// outcome turns the answer of AgentCall into the next state.
func (d *Dispatcher) outcome(ev *store.Event, guid uuid.UUID, err error) store.Outcome {
	out := store.Outcome{Agent: ev.Params.Agent, MinGap: d.o.MinGap}
	if err == nil {
		out.State, out.CallGUID, out.DryRun = store.Placed, guid.String(), d.o.DryRun
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
	if w := d.o.Windows[ev.Source]; w != nil {
		if next := w.Next(at); !next.IsZero() {
			at = next
		}
	}
	return at
}
