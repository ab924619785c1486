package main

import (
	"cmp"
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"dialhook/config"
	"dialhook/crmapi"
	"dialhook/dispatch"
	"dialhook/internal/outage"
	"dialhook/metrics"
	"dialhook/notify"
	"dialhook/store"
	"dialhook/writeback"
)

// notifyOn reports whether anything receives notifications: the store then
// queues a job with each state change a receiver may want.
func notifyOn(cfg *config.Config) bool {
	if len(cfg.Notify) > 0 {
		return true
	}
	for _, sc := range cfg.Sources {
		if sc.Writeback != nil {
			return true
		}
	}
	return false
}

// hooksOf builds the CRM write-backs the sources configure.
func hooksOf(cfg *config.Config) []dispatch.Hook {
	var out []dispatch.Hook
	for _, name := range cfg.SourceNames() {
		sc := cfg.Sources[name]
		if sc.Writeback == nil {
			continue
		}
		client := &http.Client{Timeout: 15 * time.Second}
		switch sc.Kind {
		case "hubspot":
			out = append(out, &writeback.HubSpot{Source: writeback.Source(name), API: &crmapi.HubSpot{BaseURL: cmp.Or(sc.Writeback.BaseURL, crmapi.HubSpotBaseURL),
				Token: sc.Writeback.Token, Client: client}})
		case "pipedrive":
			out = append(out, &writeback.Pipedrive{Source: writeback.Source(name), API: &crmapi.Pipedrive{BaseURL: cmp.Or(sc.Writeback.BaseURL, crmapi.PipedriveBaseURL),
				Token: sc.Writeback.Token, Client: client}})
		}
	}
	return out
}

// startNotifier runs the notification workers until ctx ends, when the
// configuration names any receiver.
func startNotifier(ctx context.Context, cfg *config.Config, st store.Store, log *zap.Logger, m *metrics.Metrics, down *outage.Tracker) error {
	if !notifyOn(cfg) {
		return nil
	}
	jobs, ok := st.(dispatch.Jobs)
	if !ok {
		return nil
	}
	hooks := hooksOf(cfg)
	eps, err := cfg.NotifyEndpoints()
	if err != nil {
		return err // validated at start-up: not reached
	}
	n := dispatch.NewNotifier(jobs, log.Named("notify"), func(to, outcome string) { m.Notifications.WithLabelValues(to, outcome).Inc() },
		dispatch.NotifierOptions{
			Endpoints: eps, Hooks: hooks, RetryFor: cfg.NotifyRetryFor.D(), Idle: cfg.ClaimIdle.D(),
			Sender:    notify.Sender{Client: &http.Client{Timeout: notify.DefaultTimeout}, UserAgent: "dialhook/" + version},
			StoreDown: down,
		})
	go n.Run(ctx)
	log.Info("notifications on", zap.Strings("endpoints", cfg.NotifyNames()), zap.Int("crm_writebacks", len(hooks)),
		zap.Duration("retry_for", cfg.NotifyRetryFor.D()))
	return nil
}
