package main

import (
	"fmt"
	"math"
	"time"
)

// slowEndToEnd: the fake answers after --slow-latency; a burst is placed at
// the pace the uContact concurrency allows.
func (x *h) slowEndToEnd() error {
	lat := x.o.slowLatency
	ceiling := float64(x.o.concurrency) / lat.Seconds()
	events := int(math.Max(100, math.Min(ceiling, 400)*4))
	m0, err := x.drained(30 * time.Second)
	if err != nil {
		return err
	}
	x.fake.setLatency(lat)
	defer x.fake.setLatency(x.o.fakeLatency)
	f0 := finals(m0)
	start := time.Now()
	r := count(x.dhT, x.src, 32, events)
	end, m1, err := x.waitFinal(f0+float64(r.ok), time.Duration(float64(events)/ceiling*1.5*float64(time.Second))+20*time.Second)
	if err != nil {
		return err
	}
	placed := m1.sum("dialhook_events", `state="placed"`) - m0.sum("dialhook_events", `state="placed"`)
	secs := end.Sub(start).Seconds()
	x.rep.EndToEnd.Slow = e2eRun{FakeLatencyMs: lat.Milliseconds(), Events: int64(placed), Seconds: round(secs, 2), PlacedPerSec: round(placed/secs, 1),
		Ceiling: round(ceiling, 1),
		Note:    fmt.Sprintf("%d events sent at once; ceiling = concurrency %d / %s", events, x.o.concurrency, lat)}
	x.logf("end to end with a %s uContact: %.0f placed in %.2fs = %.1f/s (concurrency ceiling %.0f/s)",
		lat, placed, secs, placed/secs, ceiling)
	return nil
}
