package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"dialhook/store"
)

// placeOne accepts an event for agent and places its call with guid.
func placeOne(t *testing.T, s store.Store, key, agent, guid string) *store.Event {
	t.Helper()
	ctx := context.Background()
	e := newEvent(agent)
	accept1(t, s, sub(e, key))
	d := next1(t, s)
	if d.EventID != e.ID {
		t.Fatalf("next = %s, want %s", d.EventID, e.ID)
	}
	ev, res, err := s.Begin(ctx, d, time.Minute, time.Now())
	if err != nil || res != store.Dial {
		t.Fatalf("begin: %v %v", res, err)
	}
	got, err := s.Finish(ctx, d, ev, store.Outcome{State: store.Placed, CallGUID: guid, Agent: agent}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func callEvent(kind store.CallEventKind, guid, agent, date string, fields map[string]any) store.CallEvent {
	return store.CallEvent{Kind: kind, GUID: guid, Agent: agent, DedupKey: fmt.Sprint(kind, "|", guid, agent, "|", date),
		DedupTTL: time.Hour, At: time.Now().UTC(), Fields: fields}
}

func TestCallEvents(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		const guid = "7d1e5a3c-0c4b-4f7e-9a51-2b8c6d0e4f11"
		e := placeOne(t, s, "generic:call-1", "agentTest", guid)
		steps := []struct {
			ce    store.CallEvent
			want  store.CallResult
			state store.State
		}{
			// The disposition may come before the end of the interaction.
			{callEvent(store.CallDisposed, guid, "", "2023-48-13 06:50:00", map[string]any{"l1": "Venta"}), store.CallDisposition, store.Placed},
			{callEvent(store.CallFinished, guid, "", "2023-48-13 06:48:51", map[string]any{"campaign": "Demo<-"}), store.CallCompleted, store.Completed},
			{callEvent(store.CallFinished, guid, "", "2023-48-13 06:48:51", nil), store.CallDuplicate, store.Completed},
			{callEvent(store.CallFinished, "00000000-aaaa-bbbb-cccc-000000000000", "", "x", nil), store.CallUnmatched, store.Completed},
		}
		for i, st := range steps {
			_, res, err := s.RecordCallEvent(ctx, st.ce)
			if err != nil || res != st.want {
				t.Fatalf("step %d (%s): %v %v, want %v", i, st.ce.Kind, res, err, st.want)
			}
			got, err := s.Get(ctx, e.ID)
			if err != nil || got.State != st.state {
				t.Fatalf("step %d: state %v %v, want %s", i, got.State, err, st.state)
			}
		}
		got, _ := s.Get(ctx, e.ID)
		if c := got.Call; c == nil || c.FinishedAt == nil || c.EndedBy != "FinishInteraction" || c.Interaction["campaign"] != "Demo<-" || c.Disposition["l1"] != "Venta" {
			t.Errorf("call = %+v", got.Call)
		}
		if page, err := s.List(ctx, store.ListQuery{State: store.Completed, Limit: 10}); err != nil || len(page.Events) != 1 {
			t.Errorf("completed listing = %v %v", ids(page.Events), err)
		}
	})
}

// AgentRingNoAnswer matches the agent's last placed call; with Requeue it
// puts the lead back in the queue once, and the next time ends it.
func TestAgentRingNoAnswer(t *testing.T) {
	eachInspector(t, func(t *testing.T, s inspectorStore) {
		ctx := context.Background()
		e := placeOne(t, s, "generic:ring-1", "ringer", "5b0e8f3a-1111-4c2d-8e9f-0a1b2c3d4e5f")
		ring := callEvent(store.CallAgentNoAnswer, "", "ringer", "2023-48-13 06:48:51", map[string]any{"agent": "ringer"})
		ring.Requeue = true
		got, res, err := s.RecordCallEvent(ctx, ring)
		if err != nil || res != store.CallRequeued || got.State != store.Queued || !got.Call.AgentNoAnswer {
			t.Fatalf("first ring no answer = %+v %v %v", got, res, err)
		}
		d := next1(t, s) // back in the queue
		if d.EventID != e.ID {
			t.Fatalf("requeued entry = %s", d.EventID)
		}
		ev, _, err := s.Begin(ctx, d, time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Finish(ctx, d, ev, store.Outcome{State: store.Placed, CallGUID: "5b0e8f3a-2222-4c2d-8e9f-0a1b2c3d4e5f", Agent: "ringer"}, time.Now()); err != nil {
			t.Fatal(err)
		}
		ring = callEvent(store.CallAgentNoAnswer, "", "ringer", "2023-49-13 06:49:51", nil)
		ring.Requeue = true
		got, res, err = s.RecordCallEvent(ctx, ring)
		if err != nil || res != store.CallNoAnswer || got.State != store.AgentNoAnswer {
			t.Fatalf("second ring no answer = %+v %v %v (requeued once only)", got, res, err)
		}
		if _, res, _ := s.RecordCallEvent(ctx, callEvent(store.CallAgentNoAnswer, "", "nobody", "x", nil)); res != store.CallUnmatched {
			t.Errorf("an agent without a call = %v", res)
		}
	})
}
