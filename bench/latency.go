package main

import "time"

// latency: open loop at each fixed rate, the bare server first; at the
// highest rate dialhook's peak RSS is taken (VmHWM reset at the start, and
// VmRSS sampled), until everything is placed.
func (x *h) latency() error {
	top := 0
	for _, r := range x.o.rates {
		top = max(top, r)
	}
	for _, rate := range x.o.rates {
		for _, t := range []*target{x.echoT, x.dhT} {
			var rs *rssSampler
			peakOK := false
			if t == x.dhT && rate == top {
				peakOK = resetPeakRSS(x.dh.pid()) == nil
				rs = sampleRSS(x.dh.pid(), 50*time.Millisecond)
			}
			ours0 := x.cpuNow()
			busy0, t0 := systemBusy(), time.Now()
			res := openLoop(t, x.src, rate, x.o.duration)
			ours1 := x.cpuNow()
			busy1, secs := systemBusy(), time.Since(t0).Seconds()
			run := latencyRun{Target: t.name, Rate: rate, Seconds: x.o.duration.Seconds(), Sent: res.sent, OK: res.ok, Failed: res.failed,
				Achieved: round(float64(res.ok)/res.elapsed.Seconds(), 0),
				P50:      round(res.pct(50), 2), P99: round(res.pct(99), 2), P999: round(res.pct(99.9), 2), Max: round(res.pct(100), 2),
				MachineCores: round((busy1-busy0).Seconds()/secs, 2), OtherCores: round(max((busy1-busy0)-(ours1-ours0), 0).Seconds()/secs, 2)}
			if t == x.dhT {
				if _, err := x.drained(120 * time.Second); err != nil {
					return err
				}
			}
			if rs != nil {
				sampled := rs.end()
				x.rep.Memory.PeakRSSSampledMiB = round(float64(sampled)/(1<<20), 1)
				if hwm, err := procStatus(x.dh.pid(), "VmHWM"); err == nil && peakOK {
					x.rep.Memory.PeakRSSMiB = round(float64(hwm)/(1<<20), 1)
					x.rep.Memory.Source = "VmHWM (reset at the start of the run)"
				} else {
					x.rep.Memory.PeakRSSMiB = x.rep.Memory.PeakRSSSampledMiB
					x.rep.Memory.Source = "VmRSS sampled every 50ms"
				}
				x.rep.Memory.AtRate = rate
			}
			x.rep.Latency = append(x.rep.Latency, run)
			x.logf("latency %s @%d/s: p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms, %d ok, %d failed %v; machine busy %.2f cores, %.2f of them outside the benchmark",
				t.name, rate, run.P50, run.P99, run.P999, run.Max, res.ok, res.failed, res.statuses, run.MachineCores, run.OtherCores)
		}
	}
	return nil
}
