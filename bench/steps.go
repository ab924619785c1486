package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"
)

// The short steps around the measurements (the first event, the warm-up,
// the goroutine counts) and the waits every step uses, read from
// dialhook's /metrics.

func (x *h) scrape() (metrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return scrape(ctx, x.scrapeC, x.dhT.base)
}

// finalStates are the states an event ends in after a dial.
var finalStates = []string{`state="placed"`, `state="rejected"`, `state="failed"`, `state="unknown"`}

func finals(m metrics) float64 {
	var t float64
	for _, s := range finalStates {
		t += m.sum("dialhook_events", s)
	}
	return t
}

// waitFinal polls until at least want events are in a final state (and
// nothing is queued or dialing), and returns when that was first seen.
func (x *h) waitFinal(want float64, timeout time.Duration) (time.Time, metrics, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := x.scrape()
		now := time.Now()
		if err == nil && finals(m) >= want && m.sum("dialhook_events", `state="queued"`) == 0 && m.sum("dialhook_events", `state="dialing"`) == 0 {
			return now, m, nil
		}
		if now.After(deadline) {
			if err == nil {
				err = fmt.Errorf("%.0f of %.0f events final, %.0f queued, %.0f dialing after %s", finals(m), want,
					m.sum("dialhook_events", `state="queued"`), m.sum("dialhook_events", `state="dialing"`), timeout)
			}
			return now, m, err
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// drained waits until everything accepted so far is final.
func (x *h) drained(timeout time.Duration) (metrics, error) {
	m, err := x.scrape()
	if err != nil {
		return nil, err
	}
	_, m, err = x.waitFinal(m.sum("dialhook_webhooks_total", `outcome="queued"`), timeout)
	return m, err
}

// check sends one event to each server and expects the kind's answer.
func (x *h) check() error {
	for _, t := range []*target{x.dhT, x.echoT} {
		code, _ := do(t, x.src, ids.Add(1))
		want := x.src.p.wantStatus
		if t == x.echoT {
			want = http.StatusAccepted
		}
		if code != want {
			return fmt.Errorf("%s answered %d to a new %s event, want %d", t.name, code, x.src.name, want)
		}
	}
	m, err := x.drained(10 * time.Second)
	if err != nil {
		return err
	}
	if m.sum("dialhook_events", `state="placed"`) != 1 {
		return fmt.Errorf("the check event was not placed: %v", m.sum("dialhook_events", `state="placed"`))
	}
	return nil
}

// settleConns closes every idle keep-alive connection to dialhook (ours to
// it, its own to the fake) so that their goroutines end.
func (x *h) settleConns() {
	x.dhT.tr.CloseIdleConnections()
	x.fake.dropIdle()
	time.Sleep(1500 * time.Millisecond)
}

// goroutines is dialhook's go_goroutines, the least of five scrapes: a
// scrape itself runs goroutines (its connection, the collectors that
// Prometheus gathers concurrently), which one reading may catch.
func (x *h) goroutines() (float64, error) {
	least := math.Inf(1)
	for range 5 {
		m, err := x.scrape()
		if err != nil {
			return 0, err
		}
		least = math.Min(least, m.sum("go_goroutines"))
		time.Sleep(100 * time.Millisecond)
	}
	return least, nil
}

func (x *h) goroutinesBefore() error {
	x.settleConns()
	g, err := x.goroutines()
	x.rep.Memory.GoroutinesBefore = int(g)
	return err
}

func (x *h) goroutinesAfter() error {
	if _, err := x.drained(30 * time.Second); err != nil {
		return err
	}
	x.settleConns()
	g, err := x.goroutines()
	x.rep.Memory.GoroutinesAfter = int(g)
	x.logf("goroutines before %d, after %d", x.rep.Memory.GoroutinesBefore, x.rep.Memory.GoroutinesAfter)
	return err
}

func (x *h) warmup() error {
	x.logf("warm-up: 1s each")
	closedLoop(x.echoT, x.src, 16, time.Second)
	closedLoop(x.dhT, x.src, 16, time.Second)
	_, err := x.drained(60 * time.Second)
	return err
}
