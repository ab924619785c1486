// Package mapping turns a normalized CRM event into AgentCall parameters.
//
// It is pure: no I/O, no Echo, no Redis. Adapters (package crm) produce an
// Event; a Mapper compiled once at start-up from the source's rules produces
// the parameters, or field-level errors that explain what is missing.
package mapping

import "time"

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

// Fetch names what to fetch for an event and by which CRM id.
type Fetch struct {
	Need string // e.g. "close_lead": the lead's contacts from Close's API
	Ref  string // e.g. the Close lead id
}
