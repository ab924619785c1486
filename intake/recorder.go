package intake

import (
	"context"
	"sync"
	"time"

	"dialhook/crm"
	"dialhook/store"
)

// ActivityStore is where a Recorder writes.
type ActivityStore interface {
	Record(ctx context.Context, a store.Activity) error
}

// Recorder keeps, for the console, the deliveries refused and the events
// accepted per source, off the webhook path: the handler notes them in a
// bounded buffer, and Run writes the buffer every second in one batch. A
// full buffer (the store slow or down) drops what does not fit and counts
// it: the console never slows or fails a webhook.
type Recorder struct {
	st      ActivityStore
	dropped func() // counts one refusal dropped (a metric)

	mu       sync.Mutex
	refusals []store.Refusal
	accepted map[string]int
}

// recorderMax bounds the refusals buffered between two writes.
const recorderMax = 1000

// UnknownSource names, in the refusal log, deliveries to a source that is
// not configured (their path names are the sender's, not kept as keys).
const UnknownSource = "(unknown source)"

// NewRecorder returns a Recorder writing to st; dropped is called for each
// refusal dropped (nil: not counted).
func NewRecorder(st ActivityStore, dropped func()) *Recorder {
	if dropped == nil {
		dropped = func() {}
	}
	return &Recorder{st: st, dropped: dropped, accepted: map[string]int{}}
}

// Accepted notes n new events of source.
func (r *Recorder) Accepted(source string, n int) {
	if r == nil || n <= 0 {
		return
	}
	r.mu.Lock()
	r.accepted[source] += n
	r.mu.Unlock()
}

// Refused notes a refused delivery: src is nil for an unknown source (then
// name is the one asked for). The request is captured with the source's
// secrets masked and the first store.RefusedBodyMax bytes of its body.
func (r *Recorder) Refused(src *Source, name string, req *crm.Request, status int, code, reason string) {
	if r == nil {
		return
	}
	rf := store.Refusal{At: req.Now, Source: name, Status: status, Code: code, Reason: reason}
	capSrc := src
	if capSrc == nil {
		capSrc = &Source{Name: name}
		rf.Source = UnknownSource
		rf.Reason = reason + " (asked for " + truncate(name, 64) + ")"
	}
	rf.Request = *Capture(capSrc, req, store.RefusedBodyMax)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refusals) >= recorderMax {
		r.dropped()
		return
	}
	r.refusals = append(r.refusals, rf)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Run writes the buffer every interval until ctx ends, and once more then.
func (r *Recorder) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			r.Flush(fctx)
			cancel()
			return
		case <-t.C:
			r.Flush(ctx)
		}
	}
}

// Flush writes what is buffered; on a store error it is dropped (and the
// refusals counted), so that an outage cannot grow the buffer.
func (r *Recorder) Flush(ctx context.Context) {
	r.mu.Lock()
	a := store.Activity{At: time.Now(), Refusals: r.refusals, Accepted: r.accepted}
	r.refusals, r.accepted = nil, map[string]int{}
	r.mu.Unlock()
	if len(a.Refusals) == 0 && len(a.Accepted) == 0 {
		return
	}
	if err := r.st.Record(ctx, a); err != nil {
		for range a.Refusals {
			r.dropped()
		}
	}
}
