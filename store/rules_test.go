package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"dialhook/internal/testredis"
	"dialhook/store"
)

type rulesStore interface {
	inspectorStore
	store.DNC
}

func TestDoNotCallList(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		rs := s.(rulesStore)
		ctx := context.Background()
		e := newEvent("dnc-before")
		e.Params.Destination = "59899000001"
		sb := sub(e, "generic:dnc-before")
		sb.Destination = e.Params.Destination
		if a := accept1(t, s, sb); a.Event.State != store.Queued {
			t.Fatalf("before the list: %s", a.Event.State)
		}
		now := time.Now().UTC()
		if err := rs.DNCAdd(ctx, []store.DNCEntry{{Number: "59899000001", AddedAt: now, By: "test"}, {Number: "59899000002", AddedAt: now}}); err != nil {
			t.Fatal(err)
		}
		e2 := newEvent("dnc-after")
		e2.Params.Destination = "59899000001"
		sb2 := sub(e2, "generic:dnc-after")
		sb2.Destination = e2.Params.Destination
		if a := accept1(t, s, sb2); a.Event.State != store.Blocked || a.Event.Error == "" {
			t.Fatalf("on the list: %+v", a.Event)
		}
		got, next, err := rs.DNCList(ctx, "598990000", "", 1)
		if err != nil || len(got) != 1 || got[0].Number != "59899000001" || next == "" {
			t.Fatalf("list page 1 = %v %q %v", got, next, err)
		}
		if got, next, _ = rs.DNCList(ctx, "598990000", next, 1); len(got) != 1 || got[0].Number != "59899000002" || next != "" {
			t.Fatalf("list page 2 = %v %q", got, next)
		}
		if ok, err := rs.DNCRemove(ctx, "59899000001"); !ok || err != nil {
			t.Fatalf("remove = %v %v", ok, err)
		}
		if _, err := rs.DNCGet(ctx, "59899000001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after remove: %v", err)
		}
	})
}

// The cap counts events per number across replicas: two stores on one
// Redis accept 20 events for one number concurrently, exactly max are
// queued; a redelivery is not counted twice.
func TestCapPerDestinationAcrossReplicas(t *testing.T) {
	url := testredis.URL(t)
	ns := testredis.Namespace(t)
	var replicas []*store.Redis
	for range 2 {
		r, err := store.OpenRedis(context.Background(), url, store.RedisOptions{Retention: time.Hour, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		replicas = append(replicas, r)
	}
	rule := &store.CapRule{Max: 3, Per: time.Hour}
	var mu sync.Mutex
	states := map[store.State]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := replicas[i%2]
			e := newEvent(fmt.Sprint("cap-", i))
			e.Params.Destination = "59899777777"
			sb := sub(e, fmt.Sprint("generic:cap-", i))
			sb.Destination, sb.Cap = e.Params.Destination, rule
			sb.Event.ID = s.NewEventID(sb.DedupKey)
			acc, err := s.Accept(context.Background(), []store.Submission{sb})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			states[acc[0].Event.State]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if states[store.Queued] != 3 || states[store.Capped] != 17 {
		t.Errorf("states = %v, want 3 queued and 17 capped", states)
	}
}
