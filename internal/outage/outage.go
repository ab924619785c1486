// Package outage tracks whether a dependency (the store) is failing, so
// that its callers back off together and the log says so once when it
// starts, at most once a minute while it lasts (with a count), and once
// when it is back — not once per caller per retry.
//
// It must not: import any dialhook package, or decide anything but what to
// log and whether callers should back off.
package outage

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// Tracker tracks one dependency's outages. Its zero value is not usable:
// use New.
type Tracker struct {
	log   *zap.Logger
	name  string
	mu    sync.Mutex
	since time.Time // zero: the store works
	what  string    // what was being done when it started failing
	last  time.Time // last log line about it
	count int       // failures since last
	pause time.Duration
	full  bool          // a failure of this outage was the dependency out of memory
	back  chan struct{} // closed when the outage ends (closed when there is none)
	now   func() time.Time
	// isFull tells an out-of-memory failure (nil: none is).
	isFull func(error) bool
}

// Option configures a Tracker.
type Option func(*Tracker)

// WithClock makes the Tracker read the time from now (tests); the default
// is time.Now.
func WithClock(now func() time.Time) Option { return func(o *Tracker) { o.now = now } }

// WithFull makes the Tracker tell an out-of-memory failure by isFull: such
// an outage ends only when a write that needs memory succeeds (OK), not
// when a read or a write that frees memory answers (Answered) — Redis
// under noeviction still runs those.
func WithFull(isFull func(error) bool) Option { return func(o *Tracker) { o.isFull = isFull } }

// New returns a Tracker that logs to log about name ("store"). One Tracker
// is shared by every caller of the dependency, so that one outage is one
// story in the log.
func New(log *zap.Logger, name string, opts ...Option) *Tracker {
	o := &Tracker{log: log, name: name, now: time.Now, back: make(chan struct{})}
	close(o.back) // no outage yet
	for _, opt := range opts {
		opt(o)
	}
	return o
}

const (
	outagePauseMin = 100 * time.Millisecond
	outagePauseMax = 5 * time.Second
	outageLogEvery = time.Minute
)

// Failed notes a failure while doing what, and returns how long the caller
// should wait before trying again.
func (o *Tracker) Failed(what string, err error) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	o.count++
	o.full = o.full || (o.isFull != nil && o.isFull(err))
	switch {
	case o.since.IsZero():
		o.since, o.last, o.count, o.pause, o.what = now, now, 0, outagePauseMin, what
		o.back = make(chan struct{})
		o.log.Error(o.name+" unavailable: callers pause and retry with backoff", zap.String("during", what), zap.Error(err))
	case now.Sub(o.last) >= outageLogEvery:
		o.log.Error(o.name+" still unavailable", zap.String("during", what), zap.Error(err),
			zap.Duration("for", now.Sub(o.since)), zap.Int("failures", o.count))
		o.last, o.count = now, 0
		o.pause = min(2*o.pause, outagePauseMax)
	default:
		o.pause = min(2*o.pause, outagePauseMax)
	}
	return o.pause
}

// OK notes that the dependency took a write that needs memory: it works
// again, whatever the outage was.
func (o *Tracker) OK() { o.answered("", true) }

// Answered notes that the dependency answered while doing what (a read, or
// a write that needs no memory); it ends an outage only if that began
// while doing the same (a read answered ends no outage that writes
// caused), and never one in which it was out of memory (see WithFull).
func (o *Tracker) Answered(what string) { o.answered(what, false) }

func (o *Tracker) answered(what string, wrote bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() || (!wrote && (o.full || what != o.what)) {
		return
	}
	o.log.Info(o.name+" is back", zap.Duration("after", o.now().Sub(o.since)))
	o.since, o.count, o.full = time.Time{}, 0, false
	close(o.back)
}

// Wait is how long a caller should pause before using the dependency:
// zero while it works.
func (o *Tracker) Wait() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return 0
	}
	return o.pause
}

// Back is closed when the current outage ends (already closed when there
// is none): a caller pausing for Wait stops pausing as soon as it is over.
func (o *Tracker) Back() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.back
}
