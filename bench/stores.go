package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"dialhook/store/redisinspect"
	"dialhook/store/redisurl"
)

// The stores step: closed-loop ingest (accepted/s and p99 of the accepted
// requests) on each kind of store, in the same run so that the figures
// compare: one Redis, the Cluster, and durability local vs replicated on a
// private master with one replica. Each row runs a dialhook of its own —
// same binary and configuration but for the Redis URL and the durability,
// dispatcher running, the fake uContact answering — at each
// --ingest-workers for --ingest-duration, after a warm-up of half a second,
// on a database emptied first.

// storeSpec is one row to measure.
type storeSpec struct {
	kind       string // single, cluster, local, replicated
	from       string // where the URL comes from: --redis-url, --compare-url, private
	url        string
	durability string
	ins        *redisinspect.Inspector
	skipped    string // why the row is not measured
	noConsole  bool   // DIALHOOK_CONSOLE=false: no request kept, no search index
}

func (x *h) stores() error {
	x.dh.stop(10 * time.Second) // the main instance is done: it would share a database
	x.fake.setLatency(x.o.fakeLatency)
	specs, err := x.storeSpecs()
	if err != nil {
		return err
	}
	res := &x.rep.Stores
	res.IngestDuration, res.Workers = x.o.ingestDuration.String(), x.o.ingestWorkers
	for _, s := range specs {
		row, err := x.storeRow(s)
		if err != nil {
			return fmt.Errorf("%s: %w", row.Store, err)
		}
		res.Rows = append(res.Rows, row)
	}
	res.Ratios = storeRatios(res.Rows)
	if err := x.consoleCost(specs); err != nil {
		return fmt.Errorf("console cost: %w", err)
	}
	return nil
}

// consoleCost measures what the console's storage costs per accepted
// webhook: console on and off alternately, three pairs at the most
// workers, each pair a ratio of CPU per accepted request (dialhook's and
// Redis'); the median is the figure. Alternating keeps a drift of the
// machine (another process, a warming cache) from landing on one side.
func (x *h) consoleCost(specs []storeSpec) error {
	var on, off *storeSpec
	for i := range specs {
		switch specs[i].kind {
		case "single":
			on = &specs[i]
		case "console-off":
			off = &specs[i]
		}
	}
	if on == nil || off == nil || on.skipped != "" {
		return nil
	}
	w := slices.Max(x.o.ingestWorkers)
	res := &x.rep.Stores.Console
	res.Workers = w
	for range 3 {
		a, err := x.storeLevel(*on, w)
		if err != nil {
			return err
		}
		b, err := x.storeLevel(*off, w)
		if err != nil {
			return err
		}
		r := ratio(a.CPU.Dialhook+a.CPU.Redis, b.CPU.Dialhook+b.CPU.Redis)
		res.Pairs = append(res.Pairs, r)
		x.logf("console cost: %d workers: on %.0f + %.0f µs, off %.0f + %.0f µs per accepted request: %.2f×",
			w, a.CPU.Dialhook, a.CPU.Redis, b.CPU.Dialhook, b.CPU.Redis, r)
	}
	sorted := slices.Sorted(slices.Values(res.Pairs))
	res.Median = sorted[len(sorted)/2]
	return nil
}

// storeSpecs lists the rows: one Redis (--redis-url when it is one server,
// else --compare-url), the Cluster (--redis-url when it is one), and the
// private pair, started here, for durability local and replicated.
func (x *h) storeSpecs() ([]storeSpec, error) {
	single := storeSpec{kind: "single", from: "--redis-url", url: x.o.redisURL, ins: x.ins, durability: "local"}
	cluster := storeSpec{kind: "cluster", skipped: "no cluster: pass --redis-url redis://h1:p1,h2:p2,h3:p3"}
	if x.ins.Cluster() {
		single = storeSpec{kind: "single", from: "--compare-url", url: x.o.compareURL, ins: x.cmpIns, durability: "local"}
		cluster = storeSpec{kind: "cluster", from: "--redis-url", url: x.o.redisURL, ins: x.ins, durability: "local"}
	}
	local := storeSpec{kind: "local", from: "private", durability: "local"}
	repl := storeSpec{kind: "replicated", from: "private", durability: "replicated"}
	url, skipped, err := x.startPair()
	if err != nil {
		return nil, fmt.Errorf("private Redis: %w", err)
	}
	if skipped != "" {
		local.skipped, repl.skipped = skipped, skipped
	} else {
		ins, err := redisinspect.Open(context.Background(), url, harnessClient)
		if err != nil {
			return nil, err
		}
		x.atExit(func() { _ = ins.Close() })
		local.url, local.ins, repl.url, repl.ins = url, ins, url, ins
	}
	off := single
	off.kind, off.noConsole = "console-off", true
	return []storeSpec{single, off, cluster, local, repl}, nil
}

// storeLabel names a row, with its number of masters.
func storeLabel(s storeSpec) string {
	masters := 0
	if s.ins != nil {
		masters = len(s.ins.Servers())
	}
	switch s.kind {
	case "single":
		return fmt.Sprintf("one Redis, 1 master (%s)", s.from)
	case "cluster":
		if s.skipped != "" {
			return "Redis Cluster"
		}
		return fmt.Sprintf("Redis Cluster, %d masters (%s)", masters, s.from)
	case "replicated":
		return "durability replicated (WAIT 1), 1 master + 1 replica (private)"
	case "console-off":
		return fmt.Sprintf("one Redis, console off (%s)", s.from)
	}
	return "durability local, 1 master + 1 replica (private)"
}

// storeRow measures one row.
func (x *h) storeRow(s storeSpec) (storeRun, error) {
	row := storeRun{Kind: s.kind, Store: storeLabel(s), Durability: s.durability, Skipped: s.skipped}
	if s.skipped != "" {
		x.logf("stores: %s: %s", row.Store, s.skipped)
		return row, nil
	}
	row.URL, row.Masters = redisurl.Mask(s.url), len(s.ins.Servers())
	for _, w := range x.o.ingestWorkers {
		lv, err := x.storeLevel(s, w)
		if err != nil {
			return row, err
		}
		row.Levels = append(row.Levels, lv)
		if lv.Accepted > row.Best {
			row.Best, row.BestWorkers, row.BestP99 = lv.Accepted, w, lv.P99
		}
		x.logf("stores: %s, %d workers: %.0f accepted/s, p99 %.2f ms, %d failed %v; CPU µs per accepted request: dialhook %.0f + Redis %.0f",
			row.Store, w, lv.Accepted, lv.P99, lv.Failed, lv.Statuses, lv.CPU.Dialhook, lv.CPU.Redis)
	}
	return row, nil
}

// storeLevel runs the closed loop at w workers with a dialhook of its own
// on the store emptied first, so that every level starts alike: an empty
// queue, a process that served only its warm-up. (Restarting is quicker
// than waiting for the dispatcher to place the previous level's events.)
func (x *h) storeLevel(s storeSpec, w int) (storeLevel, error) {
	ctx := context.Background()
	if err := s.ins.FlushDB(ctx, x.o.flush); err != nil {
		return storeLevel{}, fmt.Errorf("flush %s: %w", redisurl.Mask(s.url), err)
	}
	logPath := filepath.Join(x.tmp, fmt.Sprintf("dialhook-%s-%d.log", s.kind, w))
	var extra []string
	if s.noConsole {
		extra = append(extra, "DIALHOOK_CONSOLE=false")
	}
	p, addr, err := x.startDialhook(logPath, s.url, s.durability, extra...)
	if err != nil {
		return storeLevel{}, err
	}
	defer p.stop(10 * time.Second)
	t := newTarget("dialhook", addr)
	defer t.tr.CloseIdleConnections()
	if err := p.waitHTTP(t.base+"/readyz", 15*time.Second); err != nil {
		return storeLevel{}, fmt.Errorf("%w (log: %s)", err, tail(logPath))
	}
	closedLoop(t, x.src, 16, 500*time.Millisecond) // warm-up
	d0, r0, o0, b0 := x.rowCPU(p, s)
	res := closedLoop(t, x.src, w, x.o.ingestDuration)
	d1, r1, o1, b1 := x.rowCPU(p, s)
	lv := storeLevel{Workers: w, Accepted: round(res.rate(), 0), P50: round(res.pct(50), 2), P99: round(res.pct(99), 2),
		OK: res.ok, Failed: res.failed,
		CPU:        storeCPU{Dialhook: perRequest(d1-d0, res.ok), Redis: perRequest(r1-r0, res.ok)},
		OtherCores: round(max((b1-b0)-(o1-o0), 0).Seconds()/res.elapsed.Seconds(), 2)}
	if res.failed > 0 {
		lv.Statuses = res.statuses
	}
	return lv, nil
}

// rowCPU reads the CPU time used so far by the row's dialhook p, by its
// Redis (the masters'), by every process of the benchmark (those two, the
// harness, the idle bare Echo server, the private replica) and by the
// whole machine.
func (x *h) rowCPU(p *proc, s storeSpec) (dialhook, redis, ours, machine time.Duration) {
	dialhook = procCPU(p.pid())
	redis, _ = s.ins.CPU(context.Background())
	ours = dialhook + redis + selfCPU() + procCPU(x.ech.pid())
	if s.from == "private" && x.replica != nil {
		ours += procCPU(x.replica.pid())
	}
	return dialhook, redis, ours, systemBusy()
}

// perRequest is c per request in µs (0 without requests).
func perRequest(c time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return round(float64(c.Microseconds())/float64(n), 1)
}
