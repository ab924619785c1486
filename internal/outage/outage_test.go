package outage

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// An outage is logged once when it starts and once when it ends, however
// many callers fail meanwhile; callers are told to wait longer each time.
func TestOutageLogsOnce(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	o := New(zap.New(core), "store")
	if o.Wait() != 0 {
		t.Fatal("a working store asks to wait")
	}
	var last time.Duration
	for i := range 50 {
		w := o.Failed("accepting", errors.New("connection refused"))
		if i > 0 && w < last {
			t.Fatalf("wait went down: %s after %s", w, last)
		}
		last = w
	}
	o.Answered("reading the queue") // a read answered: writes may still fail
	if o.Wait() == 0 {
		t.Fatal("a read ended an outage that writes started")
	}
	o.OK()
	o.OK()
	if n := logs.FilterMessage("store unavailable: callers pause and retry with backoff").Len(); n != 1 {
		t.Errorf("%d start lines, want 1", n)
	}
	if n := logs.FilterMessage("store is back").Len(); n != 1 {
		t.Errorf("%d back lines, want 1", n)
	}
	if logs.Len() != 2 || o.Wait() != 0 {
		t.Errorf("%d lines in all, wait %s:\n%v", logs.Len(), o.Wait(), logs.All())
	}
}

// clock is a fake time that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                       { return c.t }
func (c *clock) add(d time.Duration)                  { c.t = c.t.Add(d) }
func newClock() *clock                                { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func fieldInt(e observer.LoggedEntry, k string) int64 { return e.ContextMap()[k].(int64) }

// While an outage lasts, it is told at most once a minute, with the number
// of failures since the previous line and how long it has lasted.
func TestOutageStillLineOnceAMinute(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	c := newClock()
	o := New(zap.New(core), "store", WithClock(c.now))
	boom := errors.New("i/o timeout")
	o.Failed("reading the queue", boom) // the start line
	// 90 s of failures, one a second: one "still" line, at 60 s, counting
	// the 60 failures after the first.
	for range 90 {
		c.add(time.Second)
		o.Failed("reading the queue", boom)
	}
	still := logs.FilterMessage("store still unavailable").All()
	if len(still) != 1 {
		t.Fatalf("%d still lines after 90 s, want 1:\n%v", len(still), logs.All())
	}
	if got := fieldInt(still[0], "failures"); got != 60 {
		t.Errorf("still line counts %d failures, want 60", got)
	}
	if got := still[0].ContextMap()["for"]; got != time.Minute {
		t.Errorf("still line says the outage lasted %v, want 1m", got)
	}
	if still[0].Level != zapcore.ErrorLevel {
		t.Errorf("still line at %s, want error", still[0].Level)
	}
	// 30 s more: the second minute's line counts only the failures since
	// the first one.
	for range 30 {
		c.add(time.Second)
		o.Failed("reading the queue", boom)
	}
	still = logs.FilterMessage("store still unavailable").All()
	if len(still) != 2 || fieldInt(still[1], "failures") != 60 {
		t.Fatalf("after 120 s: %d still lines, want 2 with 60 failures each:\n%v", len(still), logs.All())
	}
	c.add(5 * time.Second)
	o.OK()
	back := logs.FilterMessage("store is back").All()
	if len(back) != 1 || back[0].ContextMap()["after"] != 125*time.Second {
		t.Errorf("back lines: %v, want one after 2m5s", back)
	}
	if logs.Len() != 4 {
		t.Errorf("%d lines in all, want 4:\n%v", logs.Len(), logs.All())
	}
}

// Two callers sharing one tracker (the webhook path and the dispatcher)
// make one outage: one start line, one back line, whatever their order.
func TestOutageSharedByTwoCallers(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	c := newClock()
	o := New(zap.New(core), "store", WithClock(c.now))
	boom := errors.New("connection refused")
	for range 20 {
		c.add(500 * time.Millisecond)
		o.Failed("recording a webhook", boom)
		o.Failed("reading the queue", boom)
		o.Failed("promoting due events", boom)
	}
	o.Answered("reading the queue") // the queue answers: the writes that began it may still fail
	if o.Wait() == 0 {
		t.Fatal("a read ended an outage that a webhook's write began")
	}
	o.OK()                          // a webhook recorded
	o.Answered("reading the queue") // already over: no second line
	o.OK()
	start := logs.FilterMessage("store unavailable: callers pause and retry with backoff").All()
	if len(start) != 1 || start[0].Level != zapcore.ErrorLevel || start[0].ContextMap()["during"] != "recording a webhook" {
		t.Errorf("start lines: %v, want one ERROR during recording a webhook", start)
	}
	if n := logs.FilterMessage("store is back").Len(); n != 1 {
		t.Errorf("%d back lines, want 1", n)
	}
	if logs.Len() != 2 {
		t.Errorf("%d lines in all, want 2:\n%v", logs.Len(), logs.All())
	}
}

var errOOM = errors.New("OOM command not allowed when used memory > 'maxmemory'")

// Out of memory, Redis still runs reads and writes that free memory (DEL,
// XACK): those answering end no outage, even one they began with; only a
// write that needs memory does. One start line and one back line.
func TestOutageFullEndsOnlyOnAWrite(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	o := New(zap.New(core), "store", WithFull(func(err error) bool { return errors.Is(err, errOOM) }))
	o.Failed("beginning a call", errOOM)
	for _, what := range []string{"beginning a call", "reading the queue", "recording a webhook"} {
		o.Answered(what)
		if o.Wait() == 0 {
			t.Fatalf("%q answered ended an out-of-memory outage", what)
		}
		o.Failed("beginning a call", errOOM)
	}
	o.OK()
	if o.Wait() != 0 {
		t.Fatal("a write that needs memory did not end the outage")
	}
	// The next outage is not out of memory: a read that began it ends it.
	o.Failed("reading the queue", errors.New("connection refused"))
	o.Answered("reading the queue")
	if o.Wait() != 0 {
		t.Fatal("a connection outage did not end when its read answered")
	}
	if n := logs.FilterMessage("store unavailable: callers pause and retry with backoff").Len(); n != 2 {
		t.Errorf("%d start lines, want 2 (one per outage)", n)
	}
	if n := logs.FilterMessage("store is back").Len(); n != 2 {
		t.Errorf("%d back lines, want 2 (one per outage):\n%v", n, logs.All())
	}
}

// Back is closed when the outage ends, so that a caller pausing for Wait
// resumes at once.
func TestOutageBack(t *testing.T) {
	o := New(zap.NewNop(), "store")
	<-o.Back() // no outage: closed
	o.Failed("reading the queue", errors.New("connection refused"))
	back := o.Back()
	select {
	case <-back:
		t.Fatal("Back is closed during the outage")
	default:
	}
	o.OK()
	select {
	case <-back:
	default:
		t.Fatal("Back is not closed when the outage ended")
	}
}
