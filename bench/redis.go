package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"dialhook/store"
	"dialhook/store/redisinspect"
)

// The Redis accounting step: Redis commands per accepted event and per
// placed call, from Redis' own accounting (store/redisinspect).

// cmdCounts counts Redis commands by lower-case name.
type cmdCounts map[string]float64

func (c cmdCounts) total() float64 {
	var t float64
	for _, v := range c {
		t += v
	}
	return t
}

// minus returns c - o*scale.
func (c cmdCounts) minus(o cmdCounts, scale float64) cmdCounts {
	out := cmdCounts{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range o {
		out[k] -= v * scale
	}
	return out
}

// plus returns c + o.
func (c cmdCounts) plus(o cmdCounts) cmdCounts { return c.minus(o, -1) }

func (c cmdCounts) div(n float64) cmdCounts {
	out := cmdCounts{}
	for k, v := range c {
		out[k] = v / n
	}
	return out
}

// String lists the commands that count for at least 0.05, largest first.
func (c cmdCounts) String() string {
	type kv struct {
		k string
		v float64
	}
	var l []kv
	for k, v := range c {
		if v >= 0.05 {
			l = append(l, kv{k, v})
		}
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].v != l[j].v {
			return l[i].v > l[j].v
		}
		return l[i].k < l[j].k
	})
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%.2f", e.k, e.v)
	}
	return b.String()
}

// connSetup are commands a client sends when it opens a connection; they are
// not part of any request.
var connSetup = map[string]bool{"hello": true, "client": true, "select": true, "auth": true, "ping": true}

// ignore drops from INFO commandstats counts the harness's own reads of
// them and connection set-up. (The harness reads dialhook's events only
// between counted segments, see callWindow.)
func ignore(c cmdCounts) cmdCounts {
	out := cmdCounts{}
	for k, v := range c {
		if k == "info" || connSetup[k] {
			continue
		}
		out[k] = v
	}
	return out
}

// counter reads Redis' two accountings of commands: INFO commandstats
// (server-wide, commands run in scripts included) and MONITOR (this
// database only, without the harness's connections, sent and run in
// scripts apart; nil when unavailable). On a Cluster both are summed over
// the masters (redisinspect).
type counter struct {
	ins *redisinspect.Inspector
	mon *redisinspect.Monitor
}

func (c *counter) stats() (cmdCounts, error) {
	s, err := c.ins.CommandStats(context.Background())
	return cmdCounts(s), err
}

// take returns MONITOR's counts since the last take.
func (c *counter) take() (top, lua cmdCounts) {
	if c.mon == nil {
		return cmdCounts{}, cmdCounts{}
	}
	time.Sleep(100 * time.Millisecond) // let MONITOR catch up
	t, l := c.mon.Take()
	return cmdCounts(t), cmdCounts(l)
}

// window is what both accountings counted from open to the last pause.
// INFO commandstats counts in segments: between pause and resume the
// harness may read dialhook's events, and those commands are not counted;
// MONITOR, which never sees the harness's connections, counts on.
type window struct {
	c        *counter
	start    time.Time
	from     cmdCounts // commandstats when the current segment began
	stats    cmdCounts // commandstats of the segments ended so far
	top, lua cmdCounts
	secs     float64
}

func (c *counter) open() (*window, error) {
	c.take()
	w := &window{c: c, stats: cmdCounts{}, top: cmdCounts{}, lua: cmdCounts{}}
	if err := w.resume(); err != nil {
		return nil, err
	}
	w.start = time.Now()
	return w, nil
}

// pause ends a segment (and, unless resumed, the window).
func (w *window) pause() error {
	top, lua := w.c.take()
	s, err := w.c.stats()
	if err != nil {
		return err
	}
	w.top, w.lua = w.top.plus(top), w.lua.plus(lua)
	w.stats = w.stats.plus(s.minus(w.from, 1))
	w.secs = time.Since(w.start).Seconds()
	return nil
}

// resume begins a segment.
func (w *window) resume() error {
	s, err := w.c.stats()
	w.from = s
	return err
}

// perEvent is the window's counts per event, the background for as long
// as the window lasted taken away.
func (w *window) perEvent(bg *window, n float64) (total, top, lua cmdCounts) {
	bgTotal, bgTop, bgLua := ignore(bg.stats).div(bg.secs), bg.top.div(bg.secs), bg.lua.div(bg.secs)
	total = ignore(w.stats).minus(bgTotal, w.secs).div(n)
	top = ignore(w.top).minus(bgTop, w.secs).div(n)
	lua = w.lua.minus(bgLua, w.secs).div(n)
	return total, top, lua
}

// redisCommands counts the Redis commands of the accept path and of a
// placed call, from INFO commandstats (every command, those run inside Lua
// scripts included) and MONITOR (which tells the ones dialhook sent from the
// ones its scripts ran). The accept window runs while every worker is held
// in a call to the gated fake, so that it holds accepts only; the second
// window holds whole events (accept + dial); the difference is the call.
// The background (promotion ticks, idle queue reads) is measured while idle
// and subtracted.
func (x *h) redisCommands() error {
	if _, err := x.drained(30 * time.Second); err != nil {
		return err
	}
	c := &counter{ins: x.ins}
	own, _ := x.ins.ClientAddrs(context.Background(), harnessClient)
	mon, err := x.ins.Monitor(own)
	if err != nil {
		x.logf("MONITOR unavailable (%v): top-level counts are not separated", err)
	} else {
		c.mon = mon
		defer mon.Stop()
	}
	x.holdWorkers()
	bg, err := x.background(c)
	if err != nil {
		return err
	}
	acc, err := x.acceptWindow(c)
	if err != nil {
		return err
	}
	// Let the calls go, and wait until everything is placed.
	x.fake.open()
	if _, err := x.drained(60 * time.Second); err != nil {
		return err
	}
	all, err := x.callWindow(c)
	if err != nil {
		return err
	}
	x.redisFigures(bg, acc, all, c.mon != nil)
	return nil
}

// holdWorkers holds every worker in a call to the gated fake.
func (x *h) holdWorkers() {
	x.fake.close()
	count(x.dhT, x.src, 4, x.o.workers)
	deadline := time.Now().Add(10 * time.Second)
	for x.fake.inflight.Load() < int64(min(x.o.workers, x.o.concurrency)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
}

// background counts the commands of an idle dialhook for two seconds.
func (x *h) background(c *counter) (*window, error) {
	w, err := c.open()
	if err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second)
	return w, w.pause()
}

// acceptWindow counts --redis-events accepts while every worker is held.
func (x *h) acceptWindow(c *counter) (*window, error) {
	w, err := c.open()
	if err != nil {
		return nil, err
	}
	r := count(x.dhT, x.src, 16, x.o.redisEvents)
	if err := w.pause(); err != nil {
		return nil, err
	}
	if r.ok != int64(x.o.redisEvents) {
		return nil, fmt.Errorf("accept window: %d of %d accepted (%v)", r.ok, x.o.redisEvents, r.statuses)
	}
	return w, nil
}

// callWindow counts --redis-events whole events, until every GUID is
// recorded. It waits on the fake's counters, which cost Redis nothing, and
// reads the placed count through the store only between two segments, so
// that the reading is not counted.
func (x *h) callWindow(c *counter) (*window, error) {
	n := int64(x.o.redisEvents)
	p0, err := x.placed()
	if err != nil {
		return nil, err
	}
	calls0 := x.fake.calls.Load()
	w, err := c.open()
	if err != nil {
		return nil, err
	}
	r := count(x.dhT, x.src, 16, x.o.redisEvents)
	if r.ok != n {
		return nil, fmt.Errorf("call window: %d of %d accepted (%v)", r.ok, n, r.statuses)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		for (x.fake.calls.Load() < calls0+n || x.fake.inflight.Load() > 0) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // the last Finish has returned
		if err := w.pause(); err != nil {
			return nil, err
		}
		p, err := x.placed()
		if err != nil {
			return nil, err
		}
		if p >= p0+n {
			return w, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("call window: %d of %d placed", p-p0, n)
		}
		time.Sleep(20 * time.Millisecond)
		if err := w.resume(); err != nil {
			return nil, err
		}
	}
}

// placed is the number of events in state placed, read through the store.
func (x *h) placed() (int64, error) {
	st, err := x.st.Stats(context.Background(), time.Now())
	return st.ByState[store.Placed], err
}

// redisFigures writes the counts per accepted event and per placed call
// (whole events less accepts) into the report.
func (x *h) redisFigures(bg, acc, all *window, monitor bool) {
	n := float64(x.o.redisEvents)
	accTotal, accTop, accLua := acc.perEvent(bg, n)
	allTotal, allTop, allLua := all.perEvent(bg, n)
	fig := func(total, top, lua cmdCounts) redisFigure {
		f := redisFigure{Total: round(total.total(), 2), CommandStats: round(total.total(), 2), TotalBy: total.String(),
			TopLevel: round(top.total(), 2), InScripts: round(lua.total(), 2), TopLevelBy: top.String(), InScriptsBy: lua.String()}
		if monitor {
			// MONITOR sees this database only: other clients of the same
			// server (INFO commandstats is server-wide) do not count. On a
			// Cluster it follows every master, whose one database other
			// clients of the Cluster share: run on a Cluster of its own.
			f.Total = round(top.total()+lua.total(), 2)
		}
		return f
	}
	rc := &x.rep.Redis
	rc.Events = x.o.redisEvents
	rc.PerAccepted = fig(accTotal, accTop, accLua)
	rc.PerPlaced = fig(allTotal.minus(accTotal, 1), allTop.minus(accTop, 1), allLua.minus(accLua, 1))
	rc.Background = ignore(bg.stats).div(bg.secs).String()
	rc.Monitor = monitor
	x.logf("redis per accepted event: %.2f commands (%.2f sent: %s; %.2f in scripts: %s)", rc.PerAccepted.Total, rc.PerAccepted.TopLevel, rc.PerAccepted.TopLevelBy, rc.PerAccepted.InScripts, rc.PerAccepted.InScriptsBy)
	x.logf("redis per placed call:    %.2f commands (%.2f sent: %s; %.2f in scripts: %s)", rc.PerPlaced.Total, rc.PerPlaced.TopLevel, rc.PerPlaced.TopLevelBy, rc.PerPlaced.InScripts, rc.PerPlaced.InScriptsBy)
}
