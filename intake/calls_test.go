package intake

import (
	"testing"

	"dialhook/crm"
)

// A redelivery of a uContact event keeps its key; two different events
// never share one, with or without a date.
func TestCallDedupKey(t *testing.T) {
	key := func(body string) string {
		uc, err := crm.ParseUContact([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return callDedupKey("uc", uc, []byte(body))
	}
	ring1 := `{"event":"AgentRingNoAnswer","agent":"1001","callerIdNum":"099111222"}`
	ring2 := `{"event":"AgentRingNoAnswer","agent":"1001","callerIdNum":"099333444"}`
	dated1 := `{"event":"AgentRingNoAnswer","date":"2026-11-27 10:15:00","agent":"1001"}`
	dated2 := `{"event":"AgentRingNoAnswer","date":"2026-11-27 10:16:00","agent":"1001"}`
	// A redelivery: the same body, or for a dated event the same date with
	// the fields in another order.
	if a, b := key(ring1), key(ring1); a != b {
		t.Error("a redelivery must keep its key")
	}
	if key(dated1) != key(`{"agent":"1001","date":"2026-11-27 10:15:00","event":"AgentRingNoAnswer"}`) {
		t.Error("a dated redelivery must keep its key")
	}
	if key(ring1) == key(ring2) {
		t.Error("two undated rings of one agent share a key: the second would be answered duplicate")
	}
	if key(dated1) == key(dated2) {
		t.Error("two dated rings of one agent share a key")
	}
}
