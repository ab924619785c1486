package store

import (
	"context"
	"strconv"
	"time"
)

// memNotify is the in-memory store's notification queue; Memory.mu guards
// it. Like everything in memory, it is lost on restart.
type memNotify struct {
	on       bool
	seq      uint64
	ready    []Job          // queued, oldest first
	pending  map[string]Job // read, not acknowledged (by Ref)
	since    map[string]time.Time
	due      []dueJob
	disabled map[string]bool
}

type dueJob struct {
	j  Job
	at time.Time
}

var _ Notifier = (*Memory)(nil)

// queueJob queues a notification of type t for id. m.mu is held.
func (m *Memory) queueJob(id, t string) {
	if !m.notes.on || t == "" {
		return
	}
	m.notes.seq++
	m.notes.ready = append(m.notes.ready, Job{EventID: id, Type: t, First: m.now(), Ref: "n" + strconv.FormatUint(m.notes.seq, 10)})
}

// NextJobs implements Notifier (the in-memory store has one shard; it
// does not wait).
func (m *Memory) NextJobs(ctx context.Context, consumer string, shard, count int, block time.Duration) ([]Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := min(max(count, 1), len(m.notes.ready))
	out := append([]Job(nil), m.notes.ready[:n]...)
	m.notes.ready = m.notes.ready[n:]
	for _, j := range out {
		m.notes.pending[j.Ref], m.notes.since[j.Ref] = j, m.now()
	}
	return out, nil
}

// ReclaimJobs implements Notifier.
func (m *Memory) ReclaimJobs(ctx context.Context, consumer string, shard int, idle time.Duration) ([]Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Job
	for ref, j := range m.notes.pending {
		if m.now().Sub(m.notes.since[ref]) >= idle {
			m.notes.since[ref] = m.now()
			out = append(out, j)
		}
	}
	return out, nil
}

// DoneJob implements Notifier.
func (m *Memory) DoneJob(ctx context.Context, j Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.notes.pending, j.Ref)
	delete(m.notes.since, j.Ref)
	return nil
}

// RetryJob implements Notifier.
func (m *Memory) RetryJob(ctx context.Context, j Job, retry Job, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.notes.pending, j.Ref)
	delete(m.notes.since, j.Ref)
	m.notes.due = append(m.notes.due, dueJob{retry, at})
	return nil
}

// PromoteJobs implements Notifier.
func (m *Memory) PromoteJobs(ctx context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep, n := m.notes.due[:0], 0
	for _, d := range m.notes.due {
		if d.at.After(now) {
			keep = append(keep, d)
			continue
		}
		m.notes.seq++
		d.j.Ref = "n" + strconv.FormatUint(m.notes.seq, 10)
		m.notes.ready = append(m.notes.ready, d.j)
		n++
	}
	m.notes.due = keep
	return n, nil
}

// RecordAttempt implements Notifier.
func (m *Memory) RecordAttempt(ctx context.Context, eventID string, a NotifyAttempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(eventID)
	if e == nil {
		return ErrNotFound
	}
	e.Notifications = append(e.Notifications, a)
	if len(e.Notifications) > maxNotifyAttempts {
		e.Notifications = e.Notifications[len(e.Notifications)-maxNotifyAttempts:]
	}
	return nil
}

// DisableEndpoint implements Notifier.
func (m *Memory) DisableEndpoint(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notes.disabled[key] = true
	return nil
}

// EndpointDisabled implements Notifier.
func (m *Memory) EndpointDisabled(ctx context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.notes.disabled[key], nil
}
