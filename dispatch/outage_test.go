package dispatch_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"dialhook/dispatch"
	"dialhook/internal/outage"
	"dialhook/metrics"
	"dialhook/store"
)

// pausedStore is a store that is unreachable while down is set: every queue,
// housekeeping and notification-queue call fails as Redis' would.
type pausedStore struct {
	dispatch.Queue
	dispatch.Jobs
	down atomic.Bool
}

func (f *pausedStore) err() error {
	if f.down.Load() {
		return fmt.Errorf("%w: i/o timeout", store.ErrUnavailable)
	}
	return nil
}

func (f *pausedStore) Shards() int { return 2 }

func (f *pausedStore) Next(ctx context.Context, _ string, _, _ int, block time.Duration) ([]store.Delivery, error) {
	t := time.NewTimer(min(block, 20*time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return nil, f.err()
}

func (f *pausedStore) Promote(context.Context, time.Time) (int, error) { return 0, f.err() }

func (f *pausedStore) Reclaim(context.Context, string, int, time.Duration) ([]store.Delivery, error) {
	return nil, f.err()
}

func (f *pausedStore) PromoteJobs(context.Context, time.Time) (int, error) { return 0, f.err() }

func (f *pausedStore) NextJobs(context.Context, string, int, int, time.Duration) ([]store.Job, error) {
	return nil, f.err()
}

func (f *pausedStore) ReclaimJobs(context.Context, string, int, time.Duration) ([]store.Job, error) {
	return nil, f.err()
}

// The workers, the housekeeping (promote, reclaim) and the notification
// workers share one outage tracker: an outage is one ERROR line when it
// starts and one line when the store is back, not a WARN per tick.
func TestOutageOneStory(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	down := outage.New(log, "store")
	q := &pausedStore{}
	q.down.Store(true)
	d := dispatch.New(q, dispatch.DryRun{}, log, nil, dispatch.Options{Workers: 3, Poll: 10 * time.Millisecond,
		ClaimIdle: 40 * time.Millisecond, StoreDown: down})
	n := dispatch.NewNotifier(q, log, nil, dispatch.NotifierOptions{Poll: 10 * time.Millisecond, Idle: 40 * time.Millisecond,
		StoreDown: down})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { d.Run(ctx, ctx); done <- struct{}{} }()
	go func() { n.Run(ctx); done <- struct{}{} }()
	time.Sleep(time.Second)
	q.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("store is back").Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	<-done
	start := logs.FilterMessage("store unavailable: callers pause and retry with backoff").All()
	if len(start) != 1 || start[0].Level != zapcore.ErrorLevel {
		t.Errorf("start lines %v, want one at error", start)
	}
	if n := logs.FilterMessage("store is back").Len(); n != 1 {
		t.Errorf("%d back lines, want 1", n)
	}
	if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 0 {
		t.Errorf("%d WARN lines during the outage, want none: %v", n, logs.FilterLevelExact(zapcore.WarnLevel).All())
	}
	if t.Failed() {
		t.Logf("log:\n%v", logs.All())
	}
}

// fullQueue is a store out of memory while full is set: Begin of a queued
// event fails with ErrFull, but Begin of an entry whose record is gone
// answers Skip (its XACK needs no memory, so Redis runs it), as do reads.
type fullQueue struct {
	dispatch.Queue
	full atomic.Bool
	seq  atomic.Int64
}

func (f *fullQueue) Shards() int { return 1 }

// Next hands out two queued events first, then an entry of a gone record
// every read.
func (f *fullQueue) Next(ctx context.Context, _ string, _, _ int, _ time.Duration) ([]store.Delivery, error) {
	n := f.seq.Add(1)
	if n == 1 {
		return []store.Delivery{{EventID: "a", Ref: "1-1"}, {EventID: "b", Ref: "1-2"}}, nil
	}
	sleepCtx(ctx, 20*time.Millisecond)
	return []store.Delivery{{EventID: "gone", Ref: fmt.Sprint(n, "-0")}}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (f *fullQueue) Reclaim(context.Context, string, int, time.Duration) ([]store.Delivery, error) {
	return nil, nil
}
func (f *fullQueue) Promote(context.Context, time.Time) (int, error)     { return 0, nil }
func (f *fullQueue) Keep(context.Context, store.Delivery) (bool, error)  { return true, nil }
func (f *fullQueue) PromoteJobs(context.Context, time.Time) (int, error) { return 0, nil }
func (f *fullQueue) Begin(_ context.Context, d store.Delivery, _ time.Duration, _ time.Time) (*store.Event, store.BeginResult, error) {
	switch {
	case d.EventID == "gone":
		return nil, store.Skip, nil
	case f.full.Load():
		return nil, store.Skip, fmt.Errorf("%w: OOM command not allowed", store.ErrFull)
	}
	return &store.Event{ID: d.EventID, State: store.Dialing, Attempts: 1}, store.Dial, nil
}
func (f *fullQueue) Finish(_ context.Context, _ store.Delivery, ev *store.Event, out store.Outcome, _ time.Time) (*store.Event, error) {
	e := *ev
	e.State = out.State
	return &e, nil
}

// Out of memory, Redis still runs what needs no memory (an XACK, reads):
// those answering do not end the outage; only a begin that wrote (memory
// back) does. One start line and one back line, no flapping.
func TestFullOutageOneStory(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	q := &fullQueue{}
	q.full.Store(true)
	d := dispatch.New(q, dispatch.DryRun{}, log, metrics.New(nil), dispatch.Options{Workers: 1, Poll: 10 * time.Millisecond, ClaimIdle: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, ctx); close(done) }()
	time.Sleep(time.Second)
	if n := logs.FilterMessage("store is back").Len(); n != 0 {
		t.Errorf("%d back lines while Redis was full", n)
	}
	q.full.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for logs.FilterMessage("store is back").Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if n := logs.FilterMessage("store unavailable: callers pause and retry with backoff").Len(); n != 1 {
		t.Errorf("%d start lines, want 1", n)
	}
	if n := logs.FilterMessage("store is back").Len(); n != 1 {
		t.Errorf("%d back lines, want 1", n)
	}
	if t.Failed() {
		t.Logf("log:\n%v", logs.All())
	}
}
