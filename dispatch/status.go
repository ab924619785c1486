package dispatch

import (
	"sync"
	"time"
)

// Status is what the dispatcher last heard from uContact, for the
// console's health page.
type Status struct {
	DryRun      bool      `json:"dry_run"`
	LastOK      time.Time `json:"last_ok,omitzero"`     // the last AgentCall answered with a GUID
	LastError   string    `json:"last_error,omitempty"` // its error kind and message (never a credential)
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Calls       int64     `json:"calls"` // AgentCall attempts by this replica
}

// lastCall keeps Status.
type lastCall struct {
	mu sync.Mutex
	s  Status
}

func (l *lastCall) note(at time.Time, kind string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s.Calls++
	if err == nil {
		l.s.LastOK = at
		return
	}
	l.s.LastError, l.s.LastErrorAt = kind+": "+err.Error(), at
}

// Status reports the last AgentCall answers of this replica.
func (d *Dispatcher) Status() Status {
	d.last.mu.Lock()
	defer d.last.mu.Unlock()
	s := d.last.s
	s.DryRun = d.o.DryRun
	return s
}
