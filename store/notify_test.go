package store_test

import (
	"context"
	"testing"
	"time"

	"dialhook/store"
)

// nextJobs reads every shard once.
func nextJobs(t *testing.T, s inspectorStore) []store.Job {
	t.Helper()
	var out []store.Job
	for sh := range s.Shards() {
		js, err := s.NextJobs(context.Background(), "n1", sh, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, js...)
	}
	return out
}

// A state change queues its notification in the same step; a job can be
// retried for one endpoint; attempts are kept on the event; an endpoint
// can be disabled.
func TestNotificationJobs(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		nextJobs(t, s) // creates the groups
		const guid = "0c9d7e6f-3333-4c2d-8e9f-0a1b2c3d4e5f"
		e := placeOne(t, s, "generic:notify-1", "notifier", guid)
		if _, _, err := s.RecordCallEvent(ctx, callEvent(store.CallFinished, guid, "", "d", nil)); err != nil {
			t.Fatal(err)
		}
		jobs := nextJobs(t, s)
		if len(jobs) != 2 || jobs[0].EventID != e.ID || jobs[0].Type != store.NotifyPlaced || jobs[1].Type != store.NotifyCompleted {
			t.Fatalf("jobs = %+v", jobs)
		}
		if err := s.DoneJob(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
		retry := jobs[1]
		retry.Endpoint, retry.Tries = "crm-flow", 1
		if err := s.RetryJob(ctx, jobs[1], retry, time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PromoteJobs(ctx, time.Now()); err != nil || n != 1 {
			t.Fatalf("promoted %d %v", n, err)
		}
		again := nextJobs(t, s)
		if len(again) != 1 || again[0].Endpoint != "crm-flow" || again[0].Tries != 1 || again[0].Type != store.NotifyCompleted || again[0].First.IsZero() {
			t.Fatalf("retried = %+v", again)
		}
		if err := s.RecordAttempt(ctx, e.ID, store.NotifyAttempt{At: time.Now(), Endpoint: "crm-flow", Type: store.NotifyCompleted, Status: 500, Outcome: "retry"}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, e.ID)
		if len(got.Notifications) != 1 || got.Notifications[0].Status != 500 {
			t.Errorf("notifications = %+v", got.Notifications)
		}
		if off, _ := s.EndpointDisabled(ctx, "k1"); off {
			t.Error("disabled before")
		}
		if err := s.DisableEndpoint(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		if off, _ := s.EndpointDisabled(ctx, "k1"); !off {
			t.Error("not disabled after")
		}
	})
}
