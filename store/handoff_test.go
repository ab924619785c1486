package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"dialhook/store"
)

// An event handed to uContact's dialer keeps its dial spec, ends
// handed_off with the dialer's answer, is listed and counted in that state
// and is not redialed.
func TestHandedOff(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		e := newEvent("")
		spec := store.DialSpec{Mode: store.DialDialerTask, Campaign: "POWER<-", Data: "id=7", Alternatives: "59899123457", CallDate: "2026-11-30 09:00:00"}
		e.Dial = &spec
		accept1(t, s, sub(e, "generic:h1"))
		d := next1(t, s)
		got, res, err := s.Begin(ctx, d, time.Minute, time.Now())
		if err != nil || res != store.Dial || got.Dial == nil || *got.Dial != spec {
			t.Fatalf("begin = %+v %v %v", got, res, err)
		}
		fin, err := s.Finish(ctx, d, got, store.Outcome{State: store.HandedOff, DialerAnswer: "4711"}, time.Now())
		if err != nil || fin.State != store.HandedOff || fin.DialerAnswer != "4711" || fin.CallGUID != "" {
			t.Fatalf("finish = %+v %v", fin, err)
		}
		again, err := s.Get(ctx, e.ID)
		if err != nil || again.State != store.HandedOff || again.DialerAnswer != "4711" || again.Dial == nil || *again.Dial != spec {
			t.Fatalf("get = %+v %v", again, err)
		}
		if list, err := listAll(ctx, s, store.HandedOff, 10); err != nil || len(list) != 1 || list[0].ID != e.ID {
			t.Fatalf("list handed_off = %v %v", list, err)
		}
		if st, err := s.Stats(ctx, time.Now()); err != nil || st.ByState[store.HandedOff] != 1 || st.ByState[store.Placed] != 0 {
			t.Fatalf("stats = %+v %v", st, err)
		}
		if _, err := s.Redial(ctx, e.ID, store.Redial{At: time.Now(), Client: "t"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("redial of a handed-off event: %v", err)
		}
		if !store.HandedOff.Final() || !store.HandedOff.Valid() {
			t.Error("handed_off is a known final state")
		}
	})
}
