package dispatch

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// outage tracks whether the store is failing, so that the workers back off
// together and the log says so once when it starts, at most once a minute
// while it lasts (with a count), and once when the store is back — not once
// per worker per retry.
type outage struct {
	log   *zap.Logger
	mu    sync.Mutex
	since time.Time // zero: the store works
	what  string    // what was being done when it started failing
	last  time.Time // last log line about it
	count int       // failures since last
	pause time.Duration
}

const (
	outagePauseMin = 100 * time.Millisecond
	outagePauseMax = 5 * time.Second
	outageLogEvery = time.Minute
)

// failed notes a store failure and returns how long the caller should wait
// before trying the store again.
func (o *outage) failed(what string, err error) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.count++
	switch {
	case o.since.IsZero():
		o.since, o.last, o.count, o.pause, o.what = now, now, 0, outagePauseMin, what
		o.log.Error("store unavailable: workers pause and retry with backoff", zap.String("during", what), zap.Error(err))
	case now.Sub(o.last) >= outageLogEvery:
		o.log.Error("store still unavailable", zap.String("during", what), zap.Error(err),
			zap.Duration("for", now.Sub(o.since)), zap.Int("failures", o.count))
		o.last, o.count = now, 0
		o.pause = min(2*o.pause, outagePauseMax)
	default:
		o.pause = min(2*o.pause, outagePauseMax)
	}
	return o.pause
}

// ok notes that the store answered a write: it works again.
func (o *outage) ok() { o.answered("") }

// answered notes that the store answered while doing what; it ends an
// outage only if that began while doing the same (a read answered ends
// no outage that writes caused: Redis out of memory still reads).
func (o *outage) answered(what string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() || (what != "" && what != o.what) {
		return
	}
	o.log.Info("store is back", zap.Duration("after", time.Since(o.since)))
	o.since, o.count = time.Time{}, 0
}

// wait is how long a worker should pause before reading the queue: zero
// while the store works.
func (o *outage) wait() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return 0
	}
	return o.pause
}
