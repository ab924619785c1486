// Package metrics holds dialhook's Prometheus collectors in a registry of
// their own (no global state), served at /metrics.
//
// It must not: import Echo or go-redis; it reads the store through Stats.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"dialhook/store"
)

// Metrics are the collectors every part of dialhook reports to.
type Metrics struct {
	Registry   *prometheus.Registry
	Webhooks   *prometheus.CounterVec // source, outcome
	AuthFails  *prometheus.CounterVec // source, reason
	Dials      *prometheus.CounterVec // result
	DialTime   prometheus.Histogram
	DedupHits  *prometheus.CounterVec // source
	Interrupts prometheus.Counter
	// RefusalsDropped counts refused deliveries the console's log could not
	// keep (its buffer full, or the store down).
	RefusalsDropped prometheus.Counter
	// Notifications counts notification and write-back attempts, by
	// receiver and outcome (delivered, retry, gave_up, disabled).
	Notifications *prometheus.CounterVec
	// CallEvents counts uContact's call events by what they did.
	CallEvents *prometheus.CounterVec
	// Rules counts events a calling rule stopped, by rule and when.
	Rules *prometheus.CounterVec
}

// New registers every collector, plus store gauges read from statsFn at
// scrape time (nil: no store gauges).
func New(statsFn func(ctx context.Context) (store.Stats, error)) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialhook_webhooks_total", Help: "Webhook events received, by source and outcome.",
		}, []string{"source", "outcome"}),
		AuthFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialhook_auth_failures_total", Help: "Webhooks refused for failed authentication, by source and reason.",
		}, []string{"source", "reason"}),
		Dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialhook_dials_total", Help: "AgentCall attempts, by result.",
		}, []string{"result"}),
		DialTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dialhook_dial_duration_seconds", Help: "AgentCall latency.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}),
		DedupHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialhook_dedup_hits_total", Help: "Redeliveries recognised as duplicates, by source.",
		}, []string{"source"}),
		Interrupts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialhook_unknown_outcomes_total", Help: "Events whose call outcome is unknown (worker died mid-call, or the answer was lost).",
		}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialhook_notifications_total", Help: "Notification and write-back attempts, by receiver and outcome.",
		}, []string{"to", "outcome"}),
		Rules: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialhook_rules_total", Help: "Events a calling rule stopped, by rule (do_not_call, cap) and when (accept, before_call).",
		}, []string{"rule", "at"}),
		CallEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dialhook_call_events_total", Help: "uContact call events received, by event and what they did.",
		}, []string{"event", "result"}),
		RefusalsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dialhook_console_refusals_dropped_total", Help: "Refused deliveries the console's log did not keep (buffer full or store down).",
		}),
	}
	reg.MustRegister(m.Webhooks, m.AuthFails, m.Dials, m.DialTime, m.DedupHits, m.Interrupts, m.RefusalsDropped, m.Notifications, m.CallEvents, m.Rules,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if statsFn != nil {
		reg.MustRegister(&storeCollector{stats: statsFn})
	}
	return m
}

var (
	descDepth  = prometheus.NewDesc("dialhook_queue_depth", "Queue entries not yet acknowledged.", nil, nil)
	descOldest = prometheus.NewDesc("dialhook_queue_oldest_pending_seconds", "Age of the oldest queue entry.", nil, nil)
	descSched  = prometheus.NewDesc("dialhook_scheduled_events", "Events waiting for a call window or a retry.", nil, nil)
	descState  = prometheus.NewDesc("dialhook_events", "Events by state (within retention).", []string{"state"}, nil)
)

type storeCollector struct {
	stats func(ctx context.Context) (store.Stats, error)
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDepth
	ch <- descOldest
	ch <- descSched
	ch <- descState
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descDepth, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(st.QueueDepth))
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, st.OldestPending.Seconds())
	ch <- prometheus.MustNewConstMetric(descSched, prometheus.GaugeValue, float64(st.Scheduled))
	for _, s := range store.States {
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, float64(st.ByState[s]), string(s))
	}
}
