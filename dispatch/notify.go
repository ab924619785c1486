package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"dialhook/internal/outage"
	"dialhook/notify"
	"dialhook/store"
)

// Jobs is what the notification workers need of the store.
type Jobs interface {
	store.Notifier
	Get(ctx context.Context, id string) (*store.Event, error)
}

// Hook is another receiver of the same durable jobs (a CRM write-back):
// it answers whether to try again, when, and what to record.
type Hook interface {
	// Name names it in the attempts recorded on the event.
	Name() string
	// Wants reports whether it acts on a job of type t for ev.
	Wants(t notify.Type, ev *store.Event) bool
	// Deliver acts once; the attempt's Outcome says whether to retry. ref,
	// when not empty, is kept with the attempt (the CRM's id of what it
	// created, which a later job updates: see store.NotifyAttempt.Ref).
	Deliver(ctx context.Context, t notify.Type, ev *store.Event) (a notify.Attempt, ref string)
}

// NotifierOptions configure the notification workers.
type NotifierOptions struct {
	Endpoints []notify.Endpoint
	Hooks     []Hook
	RetryFor  time.Duration // how long after its first attempt a job is retried (default 24h)
	Idle      time.Duration // a job read and left this long by a dead worker is taken over (default 1m)
	Poll      time.Duration // how often due retries are promoted (default 1s)
	Sender    notify.Sender
	Now       func() time.Time
	// StoreDown tracks the store's outages, shared with the dispatcher and
	// the webhook path (nil: one of its own).
	StoreDown *outage.Tracker
}

// Notifier delivers the notification jobs the store queues with each state
// change: at least once, to every endpoint that wants it, each retried on
// its own with backoff; every attempt is recorded on the event. It never
// touches the dial path: a slow endpoint slows only its own deliveries.
type Notifier struct {
	q        Jobs
	log      *zap.Logger
	o        NotifierOptions
	consumer string
	counted  func(endpoint, outcome string)
}

// NewNotifier returns a Notifier; counted (nil: nothing) counts attempts.
func NewNotifier(q Jobs, log *zap.Logger, counted func(endpoint, outcome string), o NotifierOptions) *Notifier {
	if o.RetryFor <= 0 {
		o.RetryFor = notify.DefaultRetryFor
	}
	if o.Idle <= 0 {
		o.Idle = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if counted == nil {
		counted = func(string, string) {}
	}
	if o.StoreDown == nil {
		o.StoreDown = outage.New(log, "store", outage.WithFull(store.IsFull))
	}
	host, _ := os.Hostname()
	return &Notifier{q: q, log: log, o: o, counted: counted, consumer: fmt.Sprintf("%s-%d-notify", host, os.Getpid())}
}

// Active reports whether there is anything to deliver to.
func (n *Notifier) Active() bool { return len(n.o.Endpoints)+len(n.o.Hooks) > 0 }

// Run delivers until ctx ends. While the store is unreachable it waits
// as the outage tracker says (at least Poll) between rounds.
func (n *Notifier) Run(ctx context.Context) {
	lastReclaim := time.Time{}
	for ctx.Err() == nil {
		_, err := n.q.PromoteJobs(ctx, n.o.Now())
		n.noted(ctx, "promoting notification jobs", err, "notify: promote")
		reclaim := time.Since(lastReclaim) > n.o.Idle/2
		busy := false
		for sh := range n.q.Shards() {
			jobs, err := n.q.NextJobs(ctx, n.consumer, sh, 16, 0)
			if reclaim {
				more, rerr := n.q.ReclaimJobs(ctx, n.consumer, sh, n.o.Idle)
				n.noted(ctx, "reclaiming notification jobs", rerr, "notify: reclaim")
				jobs = append(jobs, more...)
			}
			n.noted(ctx, "reading notification jobs", err, "notify: read")
			for _, j := range jobs {
				busy = true
				n.handle(ctx, j)
			}
		}
		if reclaim {
			lastReclaim = time.Now()
		}
		if !busy {
			sleep(ctx, max(n.o.Poll, n.o.StoreDown.Wait()))
		}
	}
}

// noted is noted for the notifier: errors other than an outage are
// logged at debug (the job stays pending and is tried again).
func (n *Notifier) noted(ctx context.Context, what string, err error, msg string) bool {
	return noted(ctx, n.o.StoreDown, what, err, n.log.Debug, msg)
}

// handle delivers one job to every receiver it names, then acknowledges
// it; a receiver that must be tried again gets a job of its own.
func (n *Notifier) handle(ctx context.Context, j store.Job) {
	ev, err := n.q.Get(ctx, j.EventID)
	if errors.Is(err, store.ErrNotFound) {
		_ = n.q.DoneJob(ctx, j) // forgotten past retention: nothing to tell
		return
	}
	if !n.noted(ctx, "reading an event to notify", err, "notify: read event") {
		return // the job stays pending and is reclaimed
	}
	t := notify.Type(j.Type)
	data := *ev
	data.Request, data.Notifications = nil, nil
	raw, err := json.Marshal(&data)
	if err != nil {
		n.log.Error("notify: encode", zap.String("event_id", ev.ID), zap.Error(err))
		_ = n.q.DoneJob(ctx, j)
		return
	}
	m := notify.Message{ID: notify.MessageID(ev.ID, t), Type: t, Timestamp: ev.UpdatedAt, Data: raw}
	for _, ep := range n.o.Endpoints {
		if (j.Endpoint == "" && notify.Wants(ep, t, ev.Source)) || j.Endpoint == ep.Name {
			n.toEndpoint(ctx, j, ep, m)
		}
	}
	for _, h := range n.o.Hooks {
		if (j.Endpoint == "" && h.Wants(t, ev)) || j.Endpoint == h.Name() {
			a, ref := h.Deliver(ctx, t, ev)
			n.settle(ctx, j, h.Name(), m.ID, a, ref)
		}
	}
	n.noted(ctx, "acknowledging a notification job", n.q.DoneJob(ctx, j), "notify: ack")
}

// toEndpoint sends m to ep unless ep answered 410 since its configuration
// last changed.
func (n *Notifier) toEndpoint(ctx context.Context, j store.Job, ep notify.Endpoint, m notify.Message) {
	key := ep.Fingerprint()
	if off, err := n.q.EndpointDisabled(ctx, key); err == nil && off {
		n.record(ctx, j, ep.Name, m.ID, store.NotifyAttempt{At: n.o.Now(), Outcome: "disabled", Error: "the endpoint answered 410 Gone; change its configuration to enable it again"})
		return
	}
	a := n.o.Sender.Send(ctx, ep, m, n.o.Now())
	if a.Outcome == notify.Disable {
		err := n.q.DisableEndpoint(ctx, key)
		noted(ctx, n.o.StoreDown, "disabling an endpoint", err, n.log.Warn, "notify: disable", zap.String("endpoint", ep.Name))
		n.log.Warn("notify endpoint answered 410 Gone: disabled until its configuration changes", zap.String("endpoint", ep.Name))
	}
	n.settle(ctx, j, ep.Name, m.ID, a, "")
}

// settle records an attempt and schedules its retry.
func (n *Notifier) settle(ctx context.Context, j store.Job, name, msgID string, a notify.Attempt, ref string) {
	if ctx.Err() != nil && a.Outcome != notify.Delivered {
		return // shutting down: the job stays pending and is delivered later
	}
	rec := store.NotifyAttempt{At: a.At, Status: a.Status, LatencyMs: a.Latency.Milliseconds(), Error: a.Error, Outcome: string(a.Outcome), Ref: ref}
	switch a.Outcome {
	case notify.Delivered:
		rec.Outcome = "delivered"
	case notify.Disable:
		rec.Outcome = "disabled"
	case notify.Failed:
		n.log.Error("delivery refused: not retried", zap.String("event_id", j.EventID), zap.String("type", j.Type), zap.String("to", name),
			zap.String("error", a.Error))
	case notify.Retry:
		tries := j.Tries + 1
		next, ok := notify.NextRetry(tries, j.First, n.o.Now(), n.o.RetryFor, nil)
		if !ok {
			rec.Outcome = "gave_up"
			n.log.Error("notification given up", zap.String("event_id", j.EventID), zap.String("type", j.Type), zap.String("to", name),
				zap.Int("attempts", tries), zap.String("last_error", a.Error))
			break
		}
		next = later(next, n.o.Now().Add(a.RetryAfter))
		rec.Outcome, rec.NextAt = "retry", next
		retry := store.Job{EventID: j.EventID, Type: j.Type, Endpoint: name, Tries: tries, First: j.First}
		// On failure the job stays pending: reclaimed, tried again.
		noted(ctx, n.o.StoreDown, "scheduling a notification's retry", n.q.RetryJob(ctx, j, retry, next), n.log.Warn, "notify: schedule retry")
	}
	n.record(ctx, j, name, msgID, rec)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (n *Notifier) record(ctx context.Context, j store.Job, name, msgID string, a store.NotifyAttempt) {
	a.Endpoint, a.Type, a.MessageID = name, j.Type, msgID
	n.counted(name, a.Outcome)
	n.noted(ctx, "recording a notification attempt", n.q.RecordAttempt(ctx, j.EventID, a), "notify: record attempt")
	n.log.Info("notification", zap.String("event_id", j.EventID), zap.String("type", j.Type), zap.String("to", name),
		zap.String("outcome", a.Outcome), zap.Int("status", a.Status), zap.Int64("latency_ms", a.LatencyMs))
}
