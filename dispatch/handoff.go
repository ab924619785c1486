package dispatch

// How one event's call is asked of uContact: AgentCall, AgentCallwithData
// (data for the agent's screen), or DialerTask (the lead queued in
// uContact's dialer), as the event's Dial says. The at-most-once rules do
// not change with the way: a request that may have been sent is never
// repeated, by the same way or another.

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"dialhook/mapping"
	"dialhook/store"
	"dialhook/ucontact"
)

// TaskDialer queues a lead in uContact's dialer (Dialers/DialerTask) and
// returns uContact's answer as it came.
type TaskDialer interface {
	DialerTask(ctx context.Context, t ucontact.Task) (string, error)
}

// DataDialer places an AgentCall with data for the agent's screen
// (Agents/AgentCallwithData); ucontact.ErrNoResource when the instance
// does not offer it.
type DataDialer interface {
	AgentCallWithData(ctx context.Context, p ucontact.Params, data string) (uuid.UUID, error)
}

var (
	_ TaskDialer = (*ucontact.Client)(nil)
	_ DataDialer = (*ucontact.Client)(nil)
	_ TaskDialer = DryRun{}
	_ DataDialer = DryRun{}
)

// DryRunAnswer is what the dry run's DialerTask answers.
const DryRunAnswer = "dry-run"

// DialerTask implements TaskDialer: nothing is sent.
func (DryRun) DialerTask(ctx context.Context, t ucontact.Task) (string, error) {
	return DryRunAnswer, nil
}

// AgentCallWithData implements DataDialer: nothing is sent.
func (DryRun) AgentCallWithData(ctx context.Context, p ucontact.Params, data string) (uuid.UUID, error) {
	return uuid.New(), nil
}

// answer is what uContact said to one request for a call.
type answer struct {
	guid      uuid.UUID // AgentCall (with data or not)
	handedOff bool      // DialerTask took the lead
	raw       string    // DialerTask's answer
}

// place asks uContact for the event's call, the way its Dial says.
func (d *Dispatcher) place(ctx context.Context, ev *store.Event) (answer, error) {
	if ev.Dial != nil && ev.Dial.Mode == store.DialDialerTask {
		td, ok := d.dialer.(TaskDialer)
		if !ok {
			return answer{}, errors.New("the dialer in use cannot hand leads to uContact's dialer")
		}
		raw, err := td.DialerTask(ctx, task(ev))
		return answer{handedOff: err == nil, raw: raw}, err
	}
	if ev.Dial != nil && ev.Dial.Data != "" && d.o.WithData && !d.noData.Load() {
		if dd, ok := d.dialer.(DataDialer); ok {
			id, err := dd.AgentCallWithData(ctx, ev.Params, mapping.FillDestination(ev.Dial.Data, ev.Params.Destination))
			if !errors.Is(err, ucontact.ErrNoResource) {
				return answer{guid: id}, err
			}
			// A 404: the resource does not exist, so nothing was dialed and
			// AgentCall is safe. Said once per process, not per call.
			if d.noData.CompareAndSwap(false, true) {
				d.log.Error("uContact answered 404 to Agents/AgentCallwithData: this instance does not offer it; "+
					"placing calls with AgentCall, without their data, until dialhook restarts (set ucontact.with_data: false to silence this)",
					zap.String("event_id", ev.ID), zap.Error(err))
			}
		}
	}
	id, err := d.dialer.AgentCall(ctx, ev.Params)
	return answer{guid: id}, err
}

// task is the DialerTask of an event: every key set, the agent left to the
// dialer, calldate null unless the lead waits for its call window in
// uContact.
func task(ev *store.Event) ucontact.Task {
	t := ucontact.Task{
		Campaign: ev.Dial.Campaign, Destination: ev.Params.Destination, Alternatives: ev.Dial.Alternatives,
		Data: mapping.FillDestination(ev.Dial.Data, ev.Params.Destination), Source: ev.Source, Automatic: true,
	}
	if ev.Dial.CallDate != "" {
		at := ev.Dial.CallDate
		t.CallDate = &at
	}
	return t
}
