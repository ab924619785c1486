package main

import (
	"context"
	"fmt"
	"time"
)

// ingest: closed loop at each concurrency, the bare server first, then
// dialhook until everything it accepted is placed (that burst is also the
// end-to-end figure with the 0 ms fake).
func (x *h) ingest() error {
	for _, w := range x.o.ingestWorkers {
		other := func(busy, our time.Duration, secs float64) float64 {
			return round(max(busy-our, 0).Seconds()/secs, 2)
		}
		ec0, hc0, o0, b0, t0 := procCPU(x.ech.pid()), selfCPU(), x.cpuNow(), systemBusy(), time.Now()
		e := closedLoop(x.echoT, x.src, w, x.o.ingestDuration)
		ec1, hc1, o1, b1, secsE := procCPU(x.ech.pid()), selfCPU(), x.cpuNow(), systemBusy(), time.Since(t0).Seconds()
		m0, err := x.scrape()
		if err != nil {
			return err
		}
		f0 := finals(m0)
		dc0, rc0, hc2, o2, b2 := procCPU(x.dh.pid()), x.redisCPU(), selfCPU(), x.cpuNow(), systemBusy()
		start := time.Now()
		d := closedLoop(x.dhT, x.src, w, x.o.ingestDuration)
		dc1, rc1, hc3, o3, b3, secsD := procCPU(x.dh.pid()), x.redisCPU(), selfCPU(), x.cpuNow(), systemBusy(), time.Since(start).Seconds()
		end, m1, err := x.waitFinal(f0+float64(d.ok), 120*time.Second)
		if err != nil {
			return err
		}
		per := func(c time.Duration, n int64) float64 {
			if n == 0 {
				return 0
			}
			return round(float64(c.Microseconds())/float64(n), 1)
		}
		placed := m1.sum("dialhook_events", `state="placed"`) - m0.sum("dialhook_events", `state="placed"`)
		lv := ingestLevel{Workers: w, Dialhook: round(d.rate(), 0), Echo: round(e.rate(), 0),
			DialhookFailed: d.failed, EchoFailed: e.failed,
			DialhookP99: round(d.pct(99), 2), EchoP99: round(e.pct(99), 2),
			Accepted: d.ok, Placed: int64(placed), EndToEndSeconds: round(end.Sub(start).Seconds(), 2),
			EndToEnd: round(placed/end.Sub(start).Seconds(), 0),
			CPU: cpuPerRequest{Dialhook: per(dc1-dc0, d.ok), Redis: per(rc1-rc0, d.ok), HarnessDialhook: per(hc3-hc2, d.ok),
				Echo: per(ec1-ec0, e.ok), HarnessEcho: per(hc1-hc0, e.ok),
				DialhookCores: round((dc1-dc0).Seconds()/d.elapsed.Seconds(), 2), RedisCores: round((rc1-rc0).Seconds()/d.elapsed.Seconds(), 2)},
			OtherCoresEcho: other(b1-b0, o1-o0, secsE), OtherCoresDialhook: other(b3-b2, o3-o2, secsD)}
		x.rep.Ingest.Levels = append(x.rep.Ingest.Levels, lv)
		x.logf("ingest %d workers: dialhook %.0f/s (%d failed, statuses %v), echo %.0f/s; %d placed in %.2fs = %.0f placed/s end to end; CPU µs per request: dialhook %.0f + Redis %.0f + harness %.0f, echo %.0f + harness %.0f; CPUs busy outside the benchmark: %.2f (echo run), %.2f (dialhook run)",
			w, lv.Dialhook, d.failed, d.statuses, lv.Echo, lv.Placed, lv.EndToEndSeconds, lv.EndToEnd,
			lv.CPU.Dialhook, lv.CPU.Redis, lv.CPU.HarnessDialhook, lv.CPU.Echo, lv.CPU.HarnessEcho, lv.OtherCoresEcho, lv.OtherCoresDialhook)
		if lv.Dialhook > x.rep.Ingest.Dialhook {
			x.rep.Ingest.Dialhook, x.rep.Ingest.DialhookWorkers, x.rep.Ingest.CPU = lv.Dialhook, w, lv.CPU
		}
		if lv.Echo > x.rep.Ingest.Echo {
			x.rep.Ingest.Echo, x.rep.Ingest.EchoWorkers = lv.Echo, w
		}
		if lv.EndToEnd > x.rep.EndToEnd.Fast.PlacedPerSec {
			x.rep.EndToEnd.Fast = e2eRun{FakeLatencyMs: 0, Events: lv.Placed, Seconds: lv.EndToEndSeconds, PlacedPerSec: lv.EndToEnd,
				Note: fmt.Sprintf("closed loop, %d workers, %s burst, until every GUID is recorded", w, x.o.ingestDuration)}
		}
	}
	if x.rep.Ingest.Echo > 0 {
		x.rep.Ingest.Ratio = round(x.rep.Ingest.Dialhook/x.rep.Ingest.Echo, 2)
	}
	return nil
}

// cpuNow is the CPU time used so far by the processes of the benchmark:
// dialhook, the bare Echo server, Redis and the harness.
func (x *h) cpuNow() time.Duration {
	return procCPU(x.dh.pid()) + procCPU(x.ech.pid()) + x.redisCPU() + selfCPU()
}

// redisCPU is the CPU time the Redis server has used (0 when INFO fails).
func (x *h) redisCPU() time.Duration {
	d, _ := x.ins.CPU(context.Background())
	return d
}
