package crm

import (
	"fmt"
	"strings"
	"testing"
)

// The bodies are uContact's published examples ("Webhooks for Event
// Notification", docs.ucontactcloud.com), malformed dates included; the
// FinishInteraction one is built from its documented fields.
func TestParseUContact(t *testing.T) {
	for _, tc := range []struct {
		body              string
		typ, guid, agent  string
		raw               string
		dateOK            bool
		field             string
		wantErr, wantKeys int
	}{
		{body: `{"event":"AgentRingNoAnswer","date":"2023-48-13 06:48:51","agent":"agentTest","agentNumber":"9999","agentFullName":"Agente Test","callerIdNum":"1234","campaign":"Demo<-"}`,
			typ: "AgentRingNoAnswer", agent: "agentTest", raw: "2023-48-13 06:48:51", field: "campaign", wantKeys: 5},
		{body: `{"event":"AgentLog","date":"2023-16-13 05:16:22","agent":"agentTest","isLogin":true}`,
			typ: "AgentLog", agent: "agentTest", raw: "2023-16-13 05:16:22", field: "isLogin", wantKeys: 2},
		{body: `{"event":"AgentBreak","date":"2023-52-13 04:52:57","agent":"AgentTest","motive":"Lunch","isBreak":true}`,
			typ: "AgentBreak", agent: "AgentTest", raw: "2023-52-13 04:52:57", field: "motive", wantKeys: 3},
		{body: `{"event":"FinishInteraction","date":"2026-11-27 10:15:00","guid":"7D1E5A3C-0C4B-4F7E-9A51-2B8C6D0E4F11","campaign":"Ventas->","agent":"1001"}`,
			typ: "FinishInteraction", guid: "7d1e5a3c-0c4b-4f7e-9a51-2b8c6d0e4f11", agent: "1001", raw: "2026-11-27 10:15:00", dateOK: true, field: "guid", wantKeys: 3},
		{body: `[1,2]`, wantErr: 1},
		{body: `{"date":"2023-48-13 06:48:51"}`, wantErr: 1},
	} {
		ev, err := ParseUContact([]byte(tc.body))
		if (err != nil) != (tc.wantErr == 1) {
			t.Fatalf("%s: err %v", tc.body, err)
		}
		if err != nil {
			continue
		}
		if ev.Type != tc.typ || ev.GUID != tc.guid || ev.Agent != tc.agent || ev.RawDate != tc.raw || ev.Date.IsZero() == tc.dateOK {
			t.Errorf("%s: %+v", tc.typ, ev)
		}
		if _, ok := ev.Fields[tc.field]; !ok || len(ev.Fields) != tc.wantKeys || ev.Fields["event"] != nil {
			t.Errorf("%s: fields %v", tc.typ, ev.Fields)
		}
	}
}

// uContact's fields are kept bounded: 32 keys, 4 KiB.
func TestParseUContactBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"event":"InteractionDisposition","date":"x","huge":"` + strings.Repeat("y", 5000) + `"`)
	for i := range 40 {
		fmt.Fprintf(&b, `,"k%02d":"v"`, i)
	}
	b.WriteString("}")
	ev, err := ParseUContact([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Fields) != UContactMaxKeys || ev.Fields["huge"] != nil {
		t.Errorf("%d fields (huge kept: %v)", len(ev.Fields), ev.Fields["huge"] != nil)
	}
}

func TestUContactNeedsASecret(t *testing.T) {
	if _, err := New(Config{Name: "uc", Kind: "ucontact"}); err == nil || !strings.Contains(err.Error(), "needs secret") {
		t.Errorf("no secret: %v", err)
	}
	a := mustNew(t, Config{Name: "uc", Kind: "ucontact", Secret: "uc-token-1234"})
	for _, tc := range []struct {
		target, header string
		ok             bool
	}{{"/webhooks/uc?token=uc-token-1234", "", true}, {"/webhooks/uc", "uc-token-1234", true}, {"/webhooks/uc?token=nope", "", false}, {"/webhooks/uc", "", false}} {
		r := newRequest("POST", tc.target, []byte("{}"))
		if tc.header != "" {
			r.Header.Set("X-Dialhook-Token", tc.header)
		}
		if err := a.Authenticate(r); (err == nil) != tc.ok {
			t.Errorf("%s %q: %v", tc.target, tc.header, err)
		}
	}
}
