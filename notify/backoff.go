package notify

import (
	"math/rand/v2"
	"time"
)

// The retry schedule's bounds.
const (
	// FirstDelay is the longest wait after the first failed attempt; each
	// failure doubles it, up to MaxDelay.
	FirstDelay = 5 * time.Second
	// MaxDelay is the longest wait between two attempts.
	MaxDelay = time.Hour
	// DefaultRetryFor is how long after its first attempt a message is
	// retried (config notify_retry_for).
	DefaultRetryFor = 24 * time.Hour
)

// NextRetry says when to try again after the attempt-th attempt (1 for the
// first) failed at now, for a message first tried at first; false when it
// is given up, because retryFor has passed since first.
//
// The wait grows exponentially with "equal jitter": after the n-th failure
// it is between half and all of FirstDelay·2^(n-1), capped at MaxDelay, so
// 2.5–5 s, 5–10 s, 10–20 s … and from the 11th failure on 30–60 min.
// Equal jitter rather than full jitter (anywhere from 0) keeps a floor
// under every wait, so that a receiver that is down is not hit again at
// once, while the random half still spreads the retries of many messages
// that failed together (the spec asks for exponential backoff with
// jitter). The last try is made at first+retryFor rather than skipped
// when the wait would end past it. rnd returns a number in [0, 1); nil
// uses math/rand/v2.
func NextRetry(attempt int, first, now time.Time, retryFor time.Duration, rnd func() float64) (time.Time, bool) {
	deadline := first.Add(retryFor)
	if !now.Before(deadline) {
		return time.Time{}, false
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	d := backoff(attempt)
	half := d / 2
	d = half + time.Duration(min(max(rnd(), 0), 1)*float64(d-half))
	next := now.Add(d)
	if next.After(deadline) {
		next = deadline
	}
	return next, true
}

// backoff is the longest wait after the attempt-th failure.
func backoff(attempt int) time.Duration {
	d := FirstDelay
	for i := 1; i < attempt && d < MaxDelay; i++ {
		d *= 2
	}
	return min(d, MaxDelay)
}
