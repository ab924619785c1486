package store

import (
	"context"
	"strings"
	"time"
)

// RecordCallEvent implements Store.
func (m *Memory) RecordCallEvent(ctx context.Context, ce CallEvent) (*Event, CallResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if ce.DedupKey != "" {
		key := "uc:" + ce.DedupKey
		if _, ok := m.held(key); ok {
			return nil, CallDuplicate, nil
		}
		m.claims[key] = claim{expires: now.Add(max(ce.DedupTTL, time.Minute))}
	}
	var id string
	if ce.Kind == CallAgentNoAnswer {
		if c, ok := m.agentLast[ce.Agent]; ok && !now.After(c.expires) {
			id = c.id
		}
	} else {
		id = m.guids[strings.ToLower(ce.GUID)]
	}
	e := m.get(id)
	if e == nil {
		return nil, CallUnmatched, nil
	}
	next := clone(&e.Event)
	state, requeue, res, ok := applyCall(next, ce)
	if !ok {
		return clone(&e.Event), res, nil
	}
	if requeue {
		if err := m.enqueue(e.ID); err != nil {
			return nil, "", err
		}
	}
	next.State = state
	next.Request = e.Request
	e.Event = *next
	m.queueJob(e.ID, notifyTypeOfCall(res))
	return clone(&e.Event), res, nil
}

// noteAgentCall remembers the agent's last placed call, for an
// AgentRingNoAnswer to find within the match window. m.mu is held.
func (m *Memory) noteAgentCall(agent, id string, now time.Time) {
	if m.matchWindow > 0 && agent != "" {
		m.agentLast[agent] = claim{id: id, expires: now.Add(m.matchWindow)}
	}
}
