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
