package store

import (
	"context"
	"time"
)

// Enriched implements Store.
func (m *Memory) Enriched(ctx context.Context, d Delivery, _ *Event, out Enrichment, now time.Time) (*Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(d.EventID)
	if e == nil {
		m.ack(d)
		return nil, ErrNotFound
	}
	if e.State != Queued || e.Enrich == nil {
		return clone(&e.Event), ErrConflict
	}
	applyEnrichment(&e.Event, out, now)
	switch {
	case out.State == Queued && out.DueAt.IsZero():
		// goes on to Begin with the same delivery
	case out.State == Queued:
		m.due[e.ID] = out.DueAt
		m.ack(d)
	default:
		m.ack(d)
	}
	return clone(&e.Event), nil
}

// applyEnrichment writes an enrichment onto a record. A failed one keeps
// Enrich (with its tries), so a redial fetches again.
func applyEnrichment(e *Event, out Enrichment, now time.Time) {
	e.UpdatedAt, e.DueAt = now, nil
	switch {
	case out.State == Queued && out.DueAt.IsZero():
		e.Params, e.Warnings, e.Enrich = out.Params, out.Warnings, nil
		e.Error, e.ErrorKind, e.Fields = "", "", nil
	case out.State == Queued:
		t := out.DueAt
		e.DueAt = &t
		e.Enrich.Tries++
		e.Error, e.ErrorKind = out.Error, out.ErrorKind
	default:
		e.State, e.Params, e.Warnings = out.State, out.Params, out.Warnings
		e.Error, e.ErrorKind, e.Fields = out.Error, out.ErrorKind, out.Fields
		e.Enrich.Tries++
	}
}
