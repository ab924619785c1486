package store

import (
	"context"
	"time"
)

// What the operator console reads and what the webhook path keeps for it:
// the request as received, refused deliveries, per-source activity and the
// queue's consumers. The store keeps these opaque: intake masks secrets
// before a Request gets here.

// Request is a webhook as it was received, with every secret already masked.
// It is written with its event in the same atomic accept, and kept for
// inspect.retention.
type Request struct {
	Method     string            `json:"method"`
	Path       string            `json:"path"` // with the query, secret values masked
	Headers    map[string]string `json:"headers,omitempty"`
	Body       string            `json:"body,omitempty"` // at most inspect.max_body bytes
	Size       int               `json:"size"`           // the body's full size
	Truncated  bool              `json:"truncated,omitempty"`
	RemoteAddr string            `json:"remote_addr,omitempty"`
	// Verified says how the request was authenticated ("hubspot v3
	// signature", "basic auth", "none: allow_unauthenticated").
	Verified string `json:"verified,omitempty"`
}

// Attempt is one AgentCall attempt of an event and what came of it.
type Attempt struct {
	At        time.Time `json:"at"`
	N         int       `json:"n"`
	State     State     `json:"state"` // placed, failed, unknown, or queued/scheduled for a retry
	CallGUID  string    `json:"call_guid,omitempty"`
	Error     string    `json:"error,omitempty"`
	ErrorKind string    `json:"error_kind,omitempty"`
}

// Refusal is a webhook answered 400, 401, 404, 413 or 422: nothing was
// recorded as an event. Its body holds at most the first 4 KiB.
type Refusal struct {
	At      time.Time `json:"at"`
	Source  string    `json:"source"`
	Status  int       `json:"status"`
	Code    string    `json:"code"`   // the error code answered, e.g. "bad_signature"
	Reason  string    `json:"reason"` // the human reason (never the expected signature)
	Request Request   `json:"request"`
}

// Refusal log bounds: per source, the newest RefusedMax within RefusedFor.
const (
	RefusedMax     = 1000
	RefusedFor     = 72 * time.Hour
	RefusedBodyMax = 4 << 10
)

// Activity is what one replica saw since its last report: events accepted
// per source and the refusals. It is written off the webhook path, in
// batches.
type Activity struct {
	At       time.Time
	Accepted map[string]int
	Refusals []Refusal
}

// SourceActivity is a source's traffic over the last 24 hours.
type SourceActivity struct {
	Accepted     int       `json:"accepted_24h"`
	Refused      int       `json:"refused_24h"`
	LastAccepted time.Time `json:"last_accepted,omitzero"`
	LastRefused  time.Time `json:"last_refused,omitzero"`
}

// Consumer is a replica reading the queue, as the store sees it.
type Consumer struct {
	Name     string        `json:"name"`
	Pending  int64         `json:"pending"`   // entries it holds unacknowledged
	Idle     time.Duration `json:"idle"`      // since its last read
	Shards   int           `json:"shards"`    // queues it has read
	LastSeen time.Time     `json:"last_seen"` // now - Idle
}

// Health is the store's own view for the console's health page.
type Health struct {
	Kind      string        `json:"kind"` // "redis", "redis cluster", "redis sentinel", "memory"
	Reachable bool          `json:"reachable"`
	Latency   time.Duration `json:"latency"`
	Error     string        `json:"error,omitempty"`
	Consumers []Consumer    `json:"consumers,omitempty"`
}

// Inspector is what the console reads beyond Store: implemented by both
// stores.
type Inspector interface {
	// Search finds events by event id, dedup key (as recorded, without the
	// source), CRM record id, destination number (digits compared, any
	// formatting) or call GUID; newest first, at most limit.
	Search(ctx context.Context, q string, limit int) ([]*Event, error)
	// Record writes one replica's activity report (refusals capped per
	// source: RefusedMax, RefusedFor).
	Record(ctx context.Context, a Activity) error
	// Refused lists refusals newest first; source "" means every source.
	Refused(ctx context.Context, source string, limit int) ([]Refusal, error)
	// Activity answers each named source's last 24 hours.
	Activity(ctx context.Context, sources []string, now time.Time) (map[string]SourceActivity, error)
	// Health pings the store and lists the queue's consumers.
	Health(ctx context.Context) Health
}
