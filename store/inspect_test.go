package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dialhook/internal/testredis"
	"dialhook/store"
)

// inspectorStore is a store with the console's parts.
type inspectorStore interface {
	store.Store
	store.Inspector
	store.Notifier
}

// eachInspector runs f on both stores, Redis with its search index.
func eachInspector(t *testing.T, f func(t *testing.T, s inspectorStore)) {
	t.Run("memory", func(t *testing.T) {
		f(t, store.NewMemory(store.MemoryOptions{Retention: time.Hour, MatchWindow: time.Minute, Notify: true}))
	})
	open := func(t *testing.T, url string) *store.Redis {
		s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{Retention: time.Hour,
			Namespace: testredis.Namespace(t), SearchIndex: true, MatchWindow: time.Minute, Notify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("redis", func(t *testing.T) { f(t, open(t, testredis.URL(t))) })
	t.Run("cluster", func(t *testing.T) { f(t, open(t, testredis.ClusterURL(t))) })
}

func TestSearchFindsByEveryKey(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		e := newEvent("search")
		e.Params.Destination, e.RecordID, e.DedupKey = "+59899123456", "0031x00000ABC", "lead-7"
		accept1(t, s, sub(e, "generic:lead-7"))
		other := newEvent("other")
		other.Params.Destination, other.RecordID, other.DedupKey = "+59899000111", "0031x00000XYZ", "lead-8"
		accept1(t, s, sub(other, "generic:lead-8"))
		d := next1(t, s)
		for d.EventID != e.ID {
			d = next1(t, s)
		}
		ev, res, err := s.Begin(ctx, d, time.Minute, time.Now())
		if err != nil || res != store.Dial {
			t.Fatalf("begin: %v %v", res, err)
		}
		guid := "0f4e1d1a-51a3-4b8e-9d29-3c1f0a3b2c4d"
		if _, err := s.Finish(ctx, d, ev, store.Outcome{State: store.Placed, CallGUID: guid}, time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{e.ID, guid, strings.ToUpper(guid), "lead-7", "0031x00000ABC", "+598 99 123 456", "598-99-123-456", " 99 123 456 "} {
			got, err := s.Search(ctx, q, 10)
			if err != nil || len(got) != 1 || got[0].ID != e.ID {
				t.Errorf("Search(%q) = %v %v, want only %s", q, ids(got), err, e.ID)
			}
		}
		for _, q := range []string{"lead", "123", "0031x00000", "nothing"} {
			if got, err := s.Search(ctx, q, 10); err != nil || len(got) != 0 {
				t.Errorf("Search(%q) = %v %v, want nothing (no partial ids, no short number fragments)", q, ids(got), err)
			}
		}
		if got, _ := s.Search(ctx, "59899", 10); len(got) != 0 {
			t.Errorf("a 5-digit prefix found %v: numbers match whole or by their last 6+ digits", ids(got))
		}
	})
}

func ids(evs []*store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// The request as received is stored with its event and read by Get, not
// by List (a listing stays small).
func TestRequestKeptWithEvent(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		e := newEvent("req")
		e.Request = &store.Request{Method: "POST", Path: "/webhooks/generic?token=%2A%2A%2A", Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"phone":"099"}`, Size: 15, Verified: "token"}
		accept1(t, s, sub(e, "generic:req"))
		got, err := s.Get(ctx, e.ID)
		if err != nil || got.Request == nil || got.Request.Body != `{"phone":"099"}` || got.Request.Headers["Content-Type"] != "application/json" {
			t.Fatalf("Get = %+v %v", got, err)
		}
		page, err := s.List(ctx, store.ListQuery{State: store.Queued, Limit: 10})
		if err != nil || len(page.Events) != 1 || page.Events[0].Request != nil {
			t.Fatalf("List = %+v %v, want the event without its request", page, err)
		}
	})
}

// A listing of every state merges the indexes newest first, and a source
// filter keeps that source's events only.
func TestListAllStatesAndSource(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		base := time.Now().UTC().Add(-time.Minute)
		var want []string
		for i, st := range []store.State{store.Queued, store.Rejected, store.Ignored, store.Queued} {
			e := newEvent(fmt.Sprintf("all%d", i))
			e.State, e.ReceivedAt = st, base.Add(time.Duration(i)*time.Second)
			if i == 2 {
				e.Source = "hubspot"
			}
			accept1(t, s, sub(e, fmt.Sprintf("generic:all%d", i)))
			want = append([]string{e.ID}, want...)
		}
		var got []string
		cursor := ""
		for range 10 {
			page, err := s.List(ctx, store.ListQuery{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(page.Events)...)
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("all states, pages of 3 = %v, want %v", got, want)
		}
		page, err := s.List(ctx, store.ListQuery{Source: "hubspot", Limit: 10})
		if err != nil || len(page.Events) != 1 || page.Events[0].ID != want[1] {
			t.Errorf("source hubspot = %v %v, want [%s]", ids(page.Events), err, want[1])
		}
	})
}

// A finished attempt is kept in the history; a redelivery notes its time.
func TestHistoryAndLastDuplicate(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		e := newEvent("hist")
		accept1(t, s, sub(e, "generic:hist"))
		d := next1(t, s)
		ev, _, err := s.Begin(ctx, d, time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx, d, ev, store.Outcome{State: store.Failed, Error: "uContact answered 0", ErrorKind: "rejected"}, time.Now()); err != nil {
			t.Fatal(err)
		}
		again := newEvent("hist")
		if a := accept1(t, s, sub(again, "generic:hist")); !a.Duplicate {
			t.Fatalf("redelivery = %+v", a)
		}
		got, err := s.Get(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.History) != 1 || got.History[0].N != 1 || got.History[0].State != store.Failed || got.History[0].ErrorKind != "rejected" {
			t.Errorf("history = %+v", got.History)
		}
		if got.LastDuplicateAt == nil || time.Since(*got.LastDuplicateAt) > time.Minute {
			t.Errorf("last duplicate at = %v", got.LastDuplicateAt)
		}
	})
}

// Refusals are kept per source, newest first, at most RefusedMax each;
// activity counts per source over 24 hours.
func TestRefusalsAndActivity(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		now := time.Now().UTC()
		var rs []store.Refusal
		for i := range store.RefusedMax + 5 {
			rs = append(rs, store.Refusal{At: now.Add(time.Duration(i-2000) * time.Millisecond), Source: "hubspot", Status: 401,
				Code: "bad_signature", Reason: fmt.Sprint(i)})
		}
		rs = append(rs, store.Refusal{At: now, Source: "zoho", Status: 400, Code: "bad_request"})
		if err := s.Record(ctx, store.Activity{At: now, Accepted: map[string]int{"hubspot": 7}, Refusals: rs}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Refused(ctx, "hubspot", 5000)
		if err != nil || len(got) != store.RefusedMax {
			t.Fatalf("hubspot refusals = %d %v, want %d", len(got), err, store.RefusedMax)
		}
		if got[0].Reason != fmt.Sprint(store.RefusedMax+4) {
			t.Errorf("newest first: got %q first", got[0].Reason)
		}
		all, err := s.Refused(ctx, "", 2)
		if err != nil || len(all) != 2 || all[0].Source != "zoho" {
			t.Errorf("every source, 2 = %+v %v", all, err)
		}
		act, err := s.Activity(ctx, []string{"hubspot", "zoho", "none"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if h := act["hubspot"]; h.Accepted != 7 || h.Refused != store.RefusedMax+5 || h.LastAccepted.IsZero() {
			t.Errorf("hubspot activity = %+v", h)
		}
		if z := act["zoho"]; z.Refused != 1 || z.LastRefused.IsZero() {
			t.Errorf("zoho activity = %+v", z)
		}
		if n := act["none"]; n.Accepted != 0 || n.Refused != 0 {
			t.Errorf("silent source = %+v", n)
		}
	})
}

func TestHealth(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		accept1(t, s, sub(newEvent("h"), "generic:h"))
		next1(t, s) // consumer c1 holds it
		h := s.Health(ctx)
		if !h.Reachable || h.Kind == "" {
			t.Fatalf("health = %+v", h)
		}
		var c1 *store.Consumer
		for i := range h.Consumers {
			if h.Consumers[i].Name == "c1" {
				c1 = &h.Consumers[i]
			}
		}
		if c1 == nil || c1.Pending != 1 {
			t.Errorf("consumers = %+v, want c1 with 1 pending", h.Consumers)
		}
	})
}

// A placed call may be redialed only when it was a dry run (nobody was
// rung); a real placed call is never dialed again on request.
func TestRedialPlacedOnlyWhenDryRun(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		for _, dry := range []bool{true, false} {
			e := newEvent(fmt.Sprint("dry-", dry))
			accept1(t, s, sub(e, fmt.Sprint("generic:dry-", dry)))
			d := next1(t, s)
			ev, _, err := s.Begin(ctx, d, time.Minute, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Finish(ctx, d, ev, store.Outcome{State: store.Placed, CallGUID: "0f4e1d1a-51a3-4b8e-9d29-3c1f0a3b2c4d", DryRun: dry}, time.Now()); err != nil {
				t.Fatal(err)
			}
			got, err := s.Redial(ctx, e.ID, store.Redial{At: time.Now(), Client: "test"})
			switch {
			case dry && (err != nil || got.State != store.Queued):
				t.Errorf("redial of a dry-run placed event = %+v %v, want queued", got, err)
			case !dry && !errors.Is(err, store.ErrConflict):
				t.Errorf("redial of a real placed event = %v, want ErrConflict", err)
			}
			if dry {
				next1(t, s) // the redialed entry
			}
		}
	})
}
