// Package mapping turns a normalized CRM event into AgentCall parameters.
//
// It is pure: no I/O, no Echo, no Redis. Adapters (package crm) produce an
// Event; a Mapper compiled once at start-up from the source's rules produces
// the parameters, or field-level errors that explain what is missing.
//
// It must not: do I/O (no net, os or files), or import any dialhook package
// but ucontact (for the Params type) and internal/suggest (for "did you
// mean").
package mapping

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is the normalized shape every source produces.
type Event struct {
	Source     string    // configured source name (the {source} of /webhooks/{source})
	Kind       string    // adapter kind: generic, salesforce, hubspot, ...
	DedupKey   string    // native dedup key of the kind; empty when the kind has none
	BodyHash   string    // hex SHA-256 of the part of the body this event came from (last-resort dedup key)
	Record     []byte    // the record's fields as a JSON object (XML and form bodies are converted)
	ObjectType string    // e.g. "lead", "contact", "person"
	RecordID   string    // the CRM's id of the record, when known
	Action     string    // e.g. "create", "change", "delete", when known
	ReceivedAt time.Time // when dialhook received the request
	// Fetch, when set, names what the record may lack that the CRM's API
	// can give (a Close lead event carries contact ids, not phones): an
	// event that does not map is then fetched and mapped again before the
	// call, instead of being rejected.
	Fetch *Fetch
}

// FetchCloseLead is the Fetch.Need of a Close lead event: the lead's
// contacts, from Close's API.
const FetchCloseLead = "close_lead"

// Fetch names what to fetch for an event and by which CRM id.
type Fetch struct {
	Need string // e.g. "close_lead": the lead's contacts from Close's API
	Ref  string // e.g. the Close lead id
}

// wireEvent is Event as JSON, for keeping an event to map again later
// (an event whose record is fetched before the call).
type wireEvent struct {
	Source     string          `json:"source"`
	Kind       string          `json:"kind"`
	DedupKey   string          `json:"dedup_key,omitempty"`
	BodyHash   string          `json:"body_hash,omitempty"`
	Record     json.RawMessage `json:"record"`
	ObjectType string          `json:"object_type,omitempty"`
	RecordID   string          `json:"record_id,omitempty"`
	Action     string          `json:"action,omitempty"`
	ReceivedAt time.Time       `json:"received_at"`
}

// MarshalEvent encodes ev (without Fetch) as JSON.
func MarshalEvent(ev *Event) ([]byte, error) {
	w := wireEvent{Source: ev.Source, Kind: ev.Kind, DedupKey: ev.DedupKey, BodyHash: ev.BodyHash, Record: ev.Record,
		ObjectType: ev.ObjectType, RecordID: ev.RecordID, Action: ev.Action, ReceivedAt: ev.ReceivedAt}
	if !json.Valid(w.Record) {
		w.Record = json.RawMessage("{}")
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("mapping: encode event: %w", err)
	}
	return b, nil
}

// UnmarshalEvent decodes what MarshalEvent encoded.
func UnmarshalEvent(b []byte) (*Event, error) {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("mapping: decode event: %w", err)
	}
	return &Event{Source: w.Source, Kind: w.Kind, DedupKey: w.DedupKey, BodyHash: w.BodyHash, Record: w.Record,
		ObjectType: w.ObjectType, RecordID: w.RecordID, Action: w.Action, ReceivedAt: w.ReceivedAt}, nil
}
