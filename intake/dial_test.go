package intake_test

import (
	"strings"
	"testing"
	"time"

	"dialhook/intake"
	"dialhook/mapping"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/ucontact"
)

func dialSource(t *testing.T, dp *intake.DialPlan, w *schedule.Window) *intake.Source {
	t.Helper()
	mp, err := mapping.Compile(mapping.Spec{Source: "crm", Kind: "generic", Region: "UY", DestinationOnly: dp.DialerTask,
		Rules:    map[string]any{"destination": "phone", "agent": "owner", "phone": "ext"},
		Defaults: ucontact.Params{CallerID: "59829001234", Context: "agentes", OutQueue: "Ventas->"}})
	if err != nil {
		t.Fatal(err)
	}
	return &intake.Source{Name: "crm", Mapper: mp, Dial: dp, Window: w}
}

func mustData(t *testing.T, s string) *mapping.DataTemplate {
	t.Helper()
	d, err := mapping.ParseData(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A dialer_task source needs only the number; its record carries the
// campaign, the alternatives and the data rendered with the event's id.
func TestPlanDialerTask(t *testing.T) {
	src := dialSource(t, &intake.DialPlan{DialerTask: true, Campaign: "POWER<-", Alternatives: []string{"mobile"},
		Data: mustData(t, "crm={kind}&id={record_id}&ev={event_id}&to={destination}")}, nil)
	ev := mapping.Event{Source: "crm", Kind: "generic", RecordID: "42", BodyHash: "h",
		Record: []byte(`{"phone":"099123456","mobile":"099 123 457","owner":"ana","ext":"1001"}`)}
	p := src.Plan([]mapping.Event{ev}, time.Now(), time.Hour)[0]
	rec := p.Submission.Event
	if rec.State != store.Queued || rec.Dial == nil || rec.Params.Agent != "" || rec.Params.Phone != "" {
		t.Fatalf("record %+v dial %+v", rec, rec.Dial)
	}
	want := store.DialSpec{Mode: store.DialDialerTask, Campaign: "POWER<-", Alternatives: "59899123457",
		Data: "crm=generic&id=42&ev=" + rec.ID + "&to=59899123456"}
	if *rec.Dial != want {
		t.Errorf("dial %+v\nwant %+v", *rec.Dial, want)
	}
	v := intake.View(src, "generic", []intake.Planned{p})
	if !strings.Contains(v.Events[0].Dial, "handed to the dialer, campaign POWER<-") {
		t.Errorf("dry run says %q", v.Events[0].Dial)
	}
}

// Outside the call window, schedule_in_dialer hands the lead off at once
// with the window's opening (its local time) as the calldate; without it
// the lead waits in dialhook.
func TestPlanScheduleInDialer(t *testing.T) {
	w, err := schedule.Parse("America/Montevideo", nil, "09:00", "18:00", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC) // 20:00 in Montevideo
	ev := mapping.Event{Source: "crm", Kind: "generic", BodyHash: "h", Record: []byte(`{"phone":"099123456"}`)}
	for _, inDialer := range []bool{true, false} {
		src := dialSource(t, &intake.DialPlan{DialerTask: true, Campaign: "P", ScheduleInDialer: inDialer}, w)
		p := src.Plan([]mapping.Event{ev}, now, time.Hour)[0]
		rec := p.Submission.Event
		switch {
		case inDialer && (rec.State != store.Queued || rec.DueAt != nil || rec.Dial.CallDate != "2026-11-28 09:00:00"):
			t.Errorf("in the dialer: %s due %v calldate %q", rec.State, rec.DueAt, rec.Dial.CallDate)
		case !inDialer && (rec.State != store.Scheduled || rec.Dial.CallDate != ""):
			t.Errorf("in dialhook: %s calldate %q", rec.State, rec.Dial.CallDate)
		}
		if d := intake.View(src, "generic", []intake.Planned{p}).Events[0].Dial; inDialer && !strings.Contains(d, "2026-11-28 09:00:00") {
			t.Errorf("dry run says %q", d)
		}
	}
}

// An AgentCall source with data keeps the agent; {destination} waits for
// the number when it is fetched before the call.
func TestPlanAgentCallData(t *testing.T) {
	src := dialSource(t, &intake.DialPlan{Data: mustData(t, "to={destination}&id={record_id}")}, nil)
	ev := mapping.Event{Source: "crm", Kind: "generic", RecordID: "7", BodyHash: "h",
		Record: []byte(`{"phone":"099123456","owner":"ana","ext":"1001"}`)}
	rec := src.Plan([]mapping.Event{ev}, time.Now(), time.Hour)[0].Submission.Event
	if rec.Dial == nil || rec.Dial.Mode != store.DialAgentCall || rec.Dial.Data != "to=59899123456&id=7" || rec.Params.Agent != "ana" {
		t.Errorf("record %+v dial %+v", rec.Params, rec.Dial)
	}
	if got := mapping.FillDestination("to={destination}&id=7", "598"); got != "to=598&id=7" {
		t.Errorf("fill %q", got)
	}
}
