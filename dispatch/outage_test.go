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
