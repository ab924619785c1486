package intake

import (
	"dialhook/mapping"
	"dialhook/store"
)

// DialPlan is a source's dial settings, compiled: how its leads are handed
// to uContact and the data that goes with them.
type DialPlan struct {
	// DialerTask: queue the lead in uContact's dialer (Dialers/DialerTask)
	// instead of ringing a named agent with AgentCall.
	DialerTask bool
	Campaign   string
	// Data is sent with the call (DialerTask's data, or AgentCallwithData
	// with ucontact.with_data); nil: none.
	Data *mapping.DataTemplate
	// Alternatives are record paths of other numbers the dialer may try.
	Alternatives []string
	// ScheduleInDialer: a lead that arrives outside the call window is
	// handed off at once with a calldate instead of waiting in dialhook.
	ScheduleInDialer bool
}

// callDateLayout is DialerTask's calldate (ucontact.CallDateLayout: intake
// does not import ucontact).
const callDateLayout = "2006-01-02 15:04:05"

// dialOf gives a planned record its Dial: the mode and campaign, the
// alternative numbers and, once the record has its id, the rendered data.
// A record that will not be dialed gets none.
func (src *Source) dialOf(rec *store.Event, ev *mapping.Event) {
	dp := src.Dial
	if dp == nil || (rec.State != store.Queued && rec.State != store.Scheduled) {
		return
	}
	d := &store.DialSpec{Mode: store.DialAgentCall}
	if dp.DialerTask {
		d.Mode, d.Campaign = store.DialDialerTask, dp.Campaign
		// The dialer picks the agent: no agent's pacing slot is held.
		rec.Params.Agent, rec.Params.Phone = "", ""
		if len(dp.Alternatives) > 0 {
			var warns []string
			d.Alternatives, warns = src.Mapper.Alternatives(ev, dp.Alternatives, rec.Params.Destination)
			rec.Warnings = append(rec.Warnings, warns...)
		}
	}
	if dp.Data != nil {
		// {destination} stays for the dispatcher when the number is
		// fetched before the call (rec.Params.Destination is "" then).
		d.Data = dp.Data.Render(mapping.DataValues{Kind: rec.Kind, ObjectType: rec.ObjectType, RecordID: rec.RecordID,
			Source: rec.Source, EventID: rec.ID, Destination: rec.Params.Destination, Record: ev.Record})
	}
	if d.Mode == store.DialAgentCall && d.Data == "" {
		return // a plain AgentCall
	}
	rec.Dial = d
}

// scheduleInDialer turns a record scheduled for its call window into one
// handed to the dialer at once, with the window's opening as its calldate
// (the window's local time).
func (src *Source) scheduleInDialer(rec *store.Event) {
	if src.Dial == nil || !src.Dial.ScheduleInDialer || rec.State != store.Scheduled || rec.Dial == nil ||
		rec.Dial.Mode != store.DialDialerTask || rec.DueAt == nil || src.Window == nil {
		return
	}
	// Next from the arrival gives the opening in the window's own zone
	// (DueAt holds the same moment in UTC).
	at := src.Window.Next(rec.ReceivedAt)
	if at.IsZero() {
		return
	}
	rec.Dial.CallDate = at.Format(callDateLayout)
	rec.State, rec.DueAt = store.Queued, nil
}

// dialView explains a record's Dial in a dry run.
func dialView(d *store.DialSpec) string {
	if d == nil {
		return ""
	}
	switch {
	case d.Mode == store.DialDialerTask && d.CallDate != "":
		return "handed to the dialer, campaign " + d.Campaign + ", to call at " + d.CallDate + " (calldate, the call window's local time)"
	case d.Mode == store.DialDialerTask:
		return "handed to the dialer, campaign " + d.Campaign + ": uContact dials when an agent is free"
	}
	return "AgentCall with data (AgentCallwithData when ucontact.with_data is true)"
}
