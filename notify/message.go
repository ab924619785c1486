// Package notify signs and sends dialhook's notifications about what became
// of an event and its call, as Standard Webhooks
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
// a JSON body {"type", "timestamp", "data"} POSTed with the headers
// webhook-id, webhook-timestamp and webhook-signature (v1, HMAC-SHA256 keyed
// by the endpoint's whsec_ secret).
//
// It is the self-contained core: one attempt at a time, the outcome of each
// and when to try again. Queueing messages durably, the worker loop and
// recording attempts on the event belong to the caller; notify must not
// import the store, Echo, go-redis or any other dialhook package, so that
// it can be tested, and reused, alone.
package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// Type is what a notification tells, as the body's "type" and the
// endpoints' types filter name it.
type Type string

// The types dialhook sends. The event.* ones follow the event's state; the
// call.* ones what uContact reports after the call was placed.
const (
	EventPlaced        Type = "event.placed"          // AgentCall accepted the call (a GUID is recorded)
	EventRejected      Type = "event.rejected"        // the event will not be dialed (mapping, validation)
	EventFailed        Type = "event.failed"          // dialing failed for good
	EventUnknown       Type = "event.unknown"         // whether the call was placed is unknown
	EventAgentNoAnswer Type = "event.agent_no_answer" // the agent did not pick up
	EventHandedOff     Type = "event.handed_off"      // uContact's dialer took the lead (DialerTask)
	CallCompleted      Type = "call.completed"        // uContact reported the interaction finished
	CallDisposed       Type = "call.disposed"         // the agent categorized the call
)

// Types returns every type, in the order the docs list them. A fresh slice
// each time: callers may keep or change it.
func Types() []Type {
	return []Type{EventPlaced, EventRejected, EventFailed, EventUnknown, EventAgentNoAnswer, EventHandedOff, CallCompleted, CallDisposed}
}

// Known reports whether t is one of Types.
func (t Type) Known() bool { return slices.Contains(Types(), t) }

// Message is one notification, the same on every attempt: only the
// attempt's webhook-timestamp (and so its signature) changes.
type Message struct {
	// ID is the webhook-id header, the receivers' idempotency key:
	// MessageID(event, type), so that a message queued again after a
	// restart keeps it.
	ID   string
	Type Type
	// Timestamp is when what the message tells happened (the state
	// change), not when it is sent: the spec's payload "timestamp".
	Timestamp time.Time
	// Data is the event record as JSON.
	Data json.RawMessage
}

// MessageID is the webhook-id of the notification of type t about the
// event eventID: "msg_" and 32 hex digits of a SHA-256 of both. It is a
// hash rather than the two side by side because the spec forbids a "." in
// the id (the signed content is id.timestamp.body) and types have one.
func MessageID(eventID string, t Type) string {
	h := sha256.New()
	h.Write([]byte(eventID))
	h.Write([]byte{0}) // no event id holds a NUL: "ab"+"c.d" ≠ "a"+"bc.d"
	h.Write([]byte(t))
	return "msg_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Body is the request body of m: {"type":…,"timestamp":…,"data":…} with the
// timestamp in RFC 3339 (UTC, fractional seconds when there are any) and
// the data minified, as the spec recommends. The same message always gives
// the same bytes. Empty data is null; data that is not JSON (a bug in the
// caller) is sent as a JSON string, so that the body stays JSON.
func Body(m Message) []byte {
	var b bytes.Buffer
	b.Grow(len(m.Data) + 96)
	b.WriteString(`{"type":`)
	writeString(&b, string(m.Type))
	b.WriteString(`,"timestamp":`)
	writeString(&b, m.Timestamp.UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"data":`)
	mark := b.Len()
	switch err := json.Compact(&b, m.Data); {
	case len(bytes.TrimSpace(m.Data)) == 0:
		b.Truncate(mark)
		b.WriteString("null")
	case err != nil:
		b.Truncate(mark)
		writeString(&b, string(m.Data))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeString writes s as a JSON string, without the HTML escapes
// json.Marshal adds.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode ends with a newline
}
