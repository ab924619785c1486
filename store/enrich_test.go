package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"dialhook/store"
	"dialhook/ucontact"
)

// pendingEnrich is a queued event whose record waits for enrichment.
func pendingEnrich() *store.Event {
	e := newEvent("")
	e.Params = ucontact.Params{Tech: "SIP"}
	e.Enrich = &store.Enrich{Need: "close_lead", Ref: "lead_1", Event: []byte(`{"record":{}}`)}
	return e
}

// Begin answers NeedsEnrich for an event waiting for enrichment and keeps
// the delivery; Enriched then lets it go on (Begin dials it), wait for a
// retry, or end.
func TestEnrichment(t *testing.T) {
	eachStore(t, 100, func(t *testing.T, s store.Store) {
		ctx, now := context.Background(), time.Now()
		e := pendingEnrich()
		accept1(t, s, sub(e, "close:ev1"))
		d := next1(t, s)
		d.Token = "t1"
		ev, res, err := s.Begin(ctx, d, time.Minute, now)
		if err != nil || res != store.NeedsEnrich || ev.State != store.Queued || ev.Attempts != 0 {
			t.Fatalf("begin = %v %+v %v", res, ev, err)
		}
		// A worker dying here leaves the entry to be reclaimed: asked again, the same.
		if _, res, _ := s.Begin(ctx, d, time.Minute, now); res != store.NeedsEnrich {
			t.Fatalf("begin again = %v", res)
		}
		params := ucontact.Params{CallerID: "1", Agent: "a7", Phone: "107", Tech: "SIP", Context: "c", OutQueue: "q", Destination: "59899123456"}
		got, err := s.Enriched(ctx, d, ev, store.Enrichment{State: store.Queued, Params: params}, now)
		if err != nil || got.Params != params || got.Enrich != nil {
			t.Fatalf("enriched = %+v %v", got, err)
		}
		ev, res, err = s.Begin(ctx, d, time.Minute, now)
		if err != nil || res != store.Dial || ev.Params != params || ev.Attempts != 1 {
			t.Fatalf("begin after enrichment = %v %+v %v", res, ev, err)
		}
		if _, err := s.Enriched(ctx, d, ev, store.Enrichment{State: store.Queued, Params: params}, now); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("enriched while dialing: %v", err)
		}

		// A fetch that failed waits; one that fails for good ends the event
		// rejected, and a redial fetches again.
		f := pendingEnrich()
		accept1(t, s, sub(f, "close:ev2"))
		d2 := next1(t, s)
		ev2, _, _ := s.Begin(ctx, d2, time.Minute, now)
		due := now.Add(-time.Second)
		if got, err := s.Enriched(ctx, d2, ev2, store.Enrichment{State: store.Queued, DueAt: due, Error: "close: 503"}, now); err != nil || got.Enrich.Tries != 1 {
			t.Fatalf("enriched later = %+v %v", got, err)
		}
		if n, err := s.Promote(ctx, now); err != nil || n != 1 {
			t.Fatalf("promote = %d %v", n, err)
		}
		d3 := next1(t, s)
		ev3, res, _ := s.Begin(ctx, d3, time.Minute, now)
		if res != store.NeedsEnrich {
			t.Fatalf("begin after the wait = %v", res)
		}
		got, err = s.Enriched(ctx, d3, ev3, store.Enrichment{State: store.Rejected, ErrorKind: "enrich_failed", Error: "close: 401"}, now)
		if err != nil || got.State != store.Rejected || got.Enrich == nil || got.Enrich.Tries != 2 {
			t.Fatalf("enriched, failed = %+v %v", got, err)
		}
		if r, err := s.Redial(ctx, f.ID, store.Redial{At: now}); err != nil || r.State != store.Queued {
			t.Fatalf("redial = %+v %v", r, err)
		}
		if _, res, _ := s.Begin(ctx, next1(t, s), time.Minute, now); res != store.NeedsEnrich {
			t.Fatalf("begin after the redial = %v", res)
		}
	})
}
