package config

import (
	"strings"
	"testing"
)

func TestDialSettings(t *testing.T) {
	p := writeFile(t, `
ucontact:
  with_data: true
sources:
  crm:
    kind: generic
    dial:
      mode: dialer_task
      campaign: "POWER<-"
      data: "crm={kind}&id={record_id}&email={record.email}"
      alternatives: [mobile, phones.other]
      schedule_in_dialer: true
`)
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Sources["crm"].Dial
	if !c.UContact.WithData || !d.DialerTask() || d.Campaign != "POWER<-" || len(d.Alternatives) != 2 || !d.ScheduleInDialer {
		t.Fatalf("dial = %+v", d)
	}
	if (*Dial)(nil).DialerTask() {
		t.Error("no dial settings is AgentCall")
	}
}

func TestDialProblems(t *testing.T) {
	p := writeFile(t, `
sources:
  a:
    kind: generic
    dial: {mode: dialer, data: "id={id}"}
  b:
    kind: generic
    dial: {mode: dialer_task, data: "x={kind"}
  c:
    kind: generic
    dial: {campaign: "POWER<-", alternatives: ["a..b"], schedule_in_dialer: true}
  d:
    kind: ucontact
    secret: ${S}
    dial: {mode: dialer_task, campaign: P}
`)
	_, err := Load(p, env(map[string]string{"S": "a-long-enough-secret"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`sources.a.dial.mode: "dialer" must be agent_call`,
		`sources.a.dial.data: "id={id}": unknown placeholder {id} (known: {kind}, {object_type}, {record_id}, {source}, {event_id}, {destination}`,
		`sources.b.dial.campaign: must be set in mode dialer_task`,
		`sources.b.dial.data: "x={kind": unterminated "{"`,
		`sources.c.dial.campaign: is read in mode dialer_task only`,
		`sources.c.dial.schedule_in_dialer: is read in mode dialer_task only`,
		`sources.c.dial.alternatives[0]: path "a..b" has an empty component`,
		`sources.d.dial: a ucontact source receives uContact's events and places no call`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
