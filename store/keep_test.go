package store_test

import (
	"context"
	"testing"
	"time"

	"dialhook/store"
)

// Keep keeps an entry its consumer still holds from being reclaimed, and
// says so when the entry is another consumer's or acknowledged.
func TestKeep(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		accept1(t, s, sub(newEvent("a1"), "generic:keep"))
		d := next1(t, s)
		if d.Consumer != "c1" {
			t.Fatalf("delivery consumer %q, want c1", d.Consumer)
		}
		const idle = 300 * time.Millisecond
		for range 3 {
			time.Sleep(idle / 2)
			if ok, err := s.Keep(ctx, d); !ok || err != nil {
				t.Fatalf("keep while held = %v %v", ok, err)
			}
		}
		if ds, err := reclaimAll(ctx, s, "c2", idle); err != nil || len(ds) != 0 {
			t.Fatalf("reclaim of a kept entry = %v %v", ds, err)
		}
		time.Sleep(idle + 50*time.Millisecond)
		ds, err := reclaimAll(ctx, s, "c2", idle)
		if err != nil || len(ds) != 1 || ds[0].Consumer != "c2" {
			t.Fatalf("reclaim of an idle entry = %+v %v", ds, err)
		}
		if ok, err := s.Keep(ctx, d); ok || err != nil {
			t.Fatalf("keep of an entry reclaimed by another consumer = %v %v", ok, err)
		}
		if ok, err := s.Keep(ctx, ds[0]); !ok || err != nil {
			t.Fatalf("keep by the new holder = %v %v", ok, err)
		}
		ds[0].Token = "t1"
		ev, res, err := s.Begin(ctx, ds[0], time.Second, time.Now())
		if err != nil || res != store.Dial {
			t.Fatalf("begin = %v %v", res, err)
		}
		if _, err := s.Finish(ctx, ds[0], ev, store.Outcome{State: store.Placed, CallGUID: "g"}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Keep(ctx, ds[0]); ok || err != nil {
			t.Fatalf("keep of an acknowledged entry = %v %v", ok, err)
		}
	})
}
