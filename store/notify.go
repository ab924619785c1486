package store

import (
	"context"
	"time"
)

// Notifications out (issue 14): when an event reaches a state a notify
// endpoint may want, the same atomic step that changes the state queues a
// notification job; workers deliver it (at least once), retry it, and
// record every attempt on the event.

// Notification types, as the notify endpoints name them.
const (
	NotifyPlaced        = "event.placed"
	NotifyRejected      = "event.rejected"
	NotifyFailed        = "event.failed"
	NotifyUnknown       = "event.unknown"
	NotifyAgentNoAnswer = "event.agent_no_answer"
	NotifyHandedOff     = "event.handed_off"
	NotifyCompleted     = "call.completed"
	NotifyDisposed      = "call.disposed"
)

// notifyTypeOf is the notification an outcome or call result queues ("":
// none).
func notifyTypeOf(s State) string {
	switch s {
	case Placed:
		return NotifyPlaced
	case Rejected:
		return NotifyRejected
	case Failed:
		return NotifyFailed
	case Unknown:
		return NotifyUnknown
	case HandedOff:
		return NotifyHandedOff
	}
	return ""
}

func notifyTypeOfCall(r CallResult) string {
	switch r {
	case CallCompleted:
		return NotifyCompleted
	case CallDisposition:
		return NotifyDisposed
	case CallNoAnswer, CallRequeued:
		return NotifyAgentNoAnswer
	}
	return ""
}

// Job is one notification to deliver: an event's message of one type, to
// every endpoint that wants it (Endpoint "") or, retried, to one.
type Job struct {
	EventID  string
	Type     string
	Endpoint string // "" : every endpoint that wants it
	Tries    int    // attempts so far (of this job's endpoint)
	First    time.Time
	Shard    int
	Ref      string // the queue's own id of the entry
}

// NotifyAttempt is one delivery attempt, recorded on the event.
type NotifyAttempt struct {
	At        time.Time `json:"at"`
	Endpoint  string    `json:"endpoint"`
	Type      string    `json:"type"`
	MessageID string    `json:"message_id"`
	Status    int       `json:"status,omitempty"` // the endpoint's HTTP status; 0: no answer
	LatencyMs int64     `json:"latency_ms"`
	Outcome   string    `json:"outcome"` // delivered, retry (with NextAt), gave_up, disabled, failed (not retried)
	Error     string    `json:"error,omitempty"`
	NextAt    time.Time `json:"next_at,omitzero"`
	// Ref is what a CRM write-back created (its call's or activity's id),
	// for a later job to update.
	Ref string `json:"ref,omitempty"`
}

// maxNotifyAttempts bounds the attempts kept on an event (the oldest go).
const maxNotifyAttempts = 50

// Notifier is the store's side of notification delivery.
type Notifier interface {
	// NextJobs waits up to block for jobs of shard's notification queue and
	// returns up to count; a job read and never acknowledged is handed out
	// again by ReclaimJobs.
	NextJobs(ctx context.Context, consumer string, shard, count int, block time.Duration) ([]Job, error)
	ReclaimJobs(ctx context.Context, consumer string, shard int, idle time.Duration) ([]Job, error)
	// DoneJob acknowledges a job; RetryJob acknowledges it and schedules
	// retry (its Endpoint, Tries, First set) at at; PromoteJobs queues the
	// retries that are due.
	DoneJob(ctx context.Context, j Job) error
	RetryJob(ctx context.Context, j Job, retry Job, at time.Time) error
	PromoteJobs(ctx context.Context, now time.Time) (int, error)
	// RecordAttempt keeps an attempt on the event (Event.Notifications).
	RecordAttempt(ctx context.Context, eventID string, a NotifyAttempt) error
	// DisableEndpoint marks an endpoint (by a key naming its URL and
	// secret) as gone (it answered 410) until the configuration changes
	// it; EndpointDisabled tells.
	DisableEndpoint(ctx context.Context, key string) error
	EndpointDisabled(ctx context.Context, key string) (bool, error)
	Shards() int
}
