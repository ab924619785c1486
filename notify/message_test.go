package notify_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"

	"dialhook/notify"
)

func TestTypes(t *testing.T) {
	want := []notify.Type{"event.placed", "event.rejected", "event.failed", "event.unknown", "event.agent_no_answer", "event.handed_off", "call.completed", "call.disposed"}
	if got := notify.Types(); !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	notify.Types()[0] = "changed"
	if notify.Types()[0] != notify.EventPlaced {
		t.Fatal("a caller changed the list")
	}
	for _, ty := range want {
		if !ty.Known() {
			t.Errorf("%s is not Known", ty)
		}
	}
	for _, ty := range []notify.Type{"", "event", "event.placed ", "Event.Placed", "call.finished"} {
		if ty.Known() {
			t.Errorf("%q is Known", ty)
		}
	}
}

var messageIDForm = regexp.MustCompile(`^msg_[0-9a-f]{32}$`)

// A message's id is the same whenever it is made for the same event and
// type (after a restart too: the value is pinned), different otherwise,
// and of a form the spec allows (no ".").
func TestMessageID(t *testing.T) {
	const ev = "0b6f3c52-8a1d-4a47-9f8e-3c1f5d2a7b90"
	id := notify.MessageID(ev, notify.CallCompleted)
	if id != notify.MessageID(ev, notify.CallCompleted) {
		t.Fatal("not stable")
	}
	// Pinned: a new release must not change the ids of messages in flight.
	// printf '%s\0call.completed' EV | sha256sum | cut -c1-32
	if want := "msg_cfcdad85d0261e1ba47f7fc08fbb45de"; id != want {
		t.Errorf("MessageID = %s, want %s", id, want)
	}
	seen := map[string]string{}
	for _, e := range []string{ev, "ab", "a", "", "a\x00b"} {
		for _, ty := range append(notify.Types(), "b", "") {
			id := notify.MessageID(e, ty)
			if !messageIDForm.MatchString(id) {
				t.Errorf("MessageID(%q, %q) = %q", e, ty, id)
			}
			if prev, dup := seen[id]; dup {
				t.Errorf("MessageID(%q, %q) = MessageID of %s", e, ty, prev)
			}
			seen[id] = e + "/" + string(ty)
		}
	}
}

func TestBody(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 4, 5, 123_000_000, time.FixedZone("UYT", -3*3600))
	cases := []struct {
		name string
		data string
		want string
	}{
		{"object, minified", "{\n  \"id\": \"ev-1\",\n  \"call\": {\"guid\": \"g-1\"}\n}",
			`{"type":"call.completed","timestamp":"2026-11-27T13:04:05.123Z","data":{"id":"ev-1","call":{"guid":"g-1"}}}`},
		{"no HTML escapes", `{"note":"<b>&</b>"}`,
			`{"type":"call.completed","timestamp":"2026-11-27T13:04:05.123Z","data":{"note":"<b>&</b>"}}`},
		{"empty", "", `{"type":"call.completed","timestamp":"2026-11-27T13:04:05.123Z","data":null}`},
		{"not JSON", `{"id":`, `{"type":"call.completed","timestamp":"2026-11-27T13:04:05.123Z","data":"{\"id\":"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := notify.Message{ID: "msg_1", Type: notify.CallCompleted, Timestamp: at, Data: json.RawMessage(tc.data)}
			got := notify.Body(m)
			if string(got) != tc.want {
				t.Fatalf("Body =\n%s\nwant\n%s", got, tc.want)
			}
			if string(notify.Body(m)) != string(got) {
				t.Fatal("two bodies of one message differ")
			}
			var parsed struct {
				Type      string          `json:"type"`
				Timestamp time.Time       `json:"timestamp"`
				Data      json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(got, &parsed); err != nil || parsed.Type != "call.completed" || !parsed.Timestamp.Equal(at) {
				t.Fatalf("parsed = %+v, %v", parsed, err)
			}
		})
	}
	whole := notify.Body(notify.Message{Type: notify.EventPlaced, Timestamp: time.Unix(1795608000, 0), Data: json.RawMessage(`{}`)})
	if want := `{"type":"event.placed","timestamp":"2026-11-25T12:00:00Z","data":{}}`; string(whole) != want {
		t.Fatalf("whole seconds: %s, want %s", whole, want)
	}
}
