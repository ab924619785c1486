package main

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"dialhook/config"
	"dialhook/dispatch"
	"dialhook/metrics"
	"dialhook/notify"
	"dialhook/store"
)

// notifyOn reports whether anything receives notifications: the store then
// queues a job with each state change a receiver may want.
func notifyOn(cfg *config.Config) bool { return len(cfg.Notify) > 0 }

// startNotifier runs the notification workers until ctx ends, when the
// configuration names any receiver.
func startNotifier(ctx context.Context, cfg *config.Config, st store.Store, log *zap.Logger, m *metrics.Metrics) error {
	if !notifyOn(cfg) {
		return nil
	}
	jobs, ok := st.(dispatch.Jobs)
	if !ok {
		return nil
	}
	eps, err := cfg.NotifyEndpoints()
	if err != nil {
		return err // validated at start-up: not reached
	}
	n := dispatch.NewNotifier(jobs, log.Named("notify"), func(to, outcome string) { m.Notifications.WithLabelValues(to, outcome).Inc() },
		dispatch.NotifierOptions{
			Endpoints: eps, RetryFor: cfg.NotifyRetryFor.D(), Idle: cfg.ClaimIdle.D(),
			Sender: notify.Sender{Client: &http.Client{Timeout: notify.DefaultTimeout}, UserAgent: "dialhook/" + version},
		})
	go n.Run(ctx)
	log.Info("notifications on", zap.Strings("endpoints", cfg.NotifyNames()), zap.Duration("retry_for", cfg.NotifyRetryFor.D()))
	return nil
}
