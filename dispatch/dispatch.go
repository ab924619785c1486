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
	"os"
	"strconv"
	"sync"
	"sync/atomic"
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
	Keep(ctx context.Context, d store.Delivery) (bool, error)
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
	// Window is a source's call window as it applies to a call to
	// destination (nil: always open; in the number's own zones with
	// timezone: destination): retries wait for it.
	Window   func(source, destination string) *schedule.Window
	WithData bool          // send an event's Dial.Data with AgentCallwithData
	Enricher Enricher      // fetches what records lack (nil: such events are rejected)
	Consumer string        // this replica's name in the consumer group
	Poll     time.Duration // how often due events are promoted (default 250ms)
	Now      func() time.Time
	// StoreDown tracks the store's outages, shared with the webhook path
	// and the notifier so that one outage logs one start line and one back
	// line (nil: one of its own).
	StoreDown *outage.Tracker
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
	last   lastCall
	// noData: uContact answered 404 to AgentCallwithData; AgentCall is
	// used for the rest of the process (said once).
	noData atomic.Bool
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
	if o.StoreDown == nil {
		o.StoreDown = outage.New(log, "store", outage.WithFull(store.IsFull))
	}
	return &Dispatcher{q: q, dialer: dialer, log: log, m: m, o: o, sem: make(chan struct{}, o.Concurrency), down: o.StoreDown}
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
			// The store is failing: do not take entries it cannot record,
			// until the pause is over or the store is back.
			sleepUntil(ctx, pause, d.down.Back())
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
// The store's outages go to the outage tracker, not to a line per tick.
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
		_, err := d.q.Promote(ctx, d.o.Now())
		noted(ctx, d.down, "promoting due events", err, d.log.Warn, "promote due events")
		if time.Since(lastReclaim) < reclaimEvery {
			continue
		}
		lastReclaim = time.Now()
		for shard := range d.q.Shards() {
			ds, err := d.q.Reclaim(ctx, d.o.Consumer+"-reclaim", shard, d.o.ClaimIdle)
			if !noted(ctx, d.down, "reclaiming entries", err, d.log.Warn, "reclaim", zap.Int("shard", shard)) {
				break
			}
			for _, dl := range ds {
				d.Handle(dialCtx, dl)
			}
		}
	}
}

// noted reports whether a store call doing what answered (err nil). An
// unreachable store is down's to tell (once per outage, not once per
// caller and retry); any other error is logged with log as msg and
// fields; nothing is when ctx ended.
func noted(ctx context.Context, down *outage.Tracker, what string, err error, log func(string, ...zap.Field), msg string, fields ...zap.Field) bool {
	switch {
	case err == nil:
		down.Answered(what)
		return true
	case ctx.Err() != nil:
	case errors.Is(err, store.ErrUnavailable):
		down.Failed(what, err)
	default:
		log(msg, append(fields, zap.Error(err))...)
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) { sleepUntil(ctx, d, nil) }

// sleepUntil is sleep that also ends when wake is closed.
func sleepUntil(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}
