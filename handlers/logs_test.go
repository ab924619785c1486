package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
)

// webhookLine is the log line of the webhook whose outcome is outcome.
func (e *env) webhookLine(outcome string) (zapcore.Level, map[string]any) {
	e.t.Helper()
	for _, l := range e.logs.FilterMessage("webhook").All() {
		if f := l.ContextMap(); f["outcome"] == outcome {
			return l.Level, f
		}
	}
	e.t.Fatalf("no webhook line with outcome %s in\n%s", outcome, e.logText())
	return 0, nil
}

// Every non-success says why, at WARN; a waited webhook logs what the wait
// saw.
func TestWebhookLogsExplain(t *testing.T) {
	e := newEnv(t, envOptions{})
	wantError(t, e.do(postReq("/webhooks/generic", []byte(`{"event_id":"lx-1","owner":"ana@example.com"}`))), http.StatusUnprocessableEntity, "mapping_failed")
	lvl, f := e.webhookLine("rejected")
	if lvl != zapcore.WarnLevel || !strings.Contains(f["reason"].(string), "destination") || f["fields"] == nil {
		t.Errorf("mapping rejection: %s %v", lvl, f)
	}

	r := e.do(postReq("/webhooks/generic", []byte(`{"event_id":"lx-2","destination":`)))
	ed := wantError(t, r, http.StatusBadRequest, "malformed")
	if !strings.Contains(ed["message"].(string), "at byte 33") {
		t.Errorf("truncated JSON: %v", ed["message"])
	}
	if lvl, f = e.webhookLine("malformed"); lvl != zapcore.WarnLevel || !strings.Contains(f["reason"].(string), "at byte 33") {
		t.Errorf("malformed line: %s %v", lvl, f)
	}

	wantError(t, e.do(postReq("/webhooks/flow", genericLead("lx-3", "099 123 456"), "X-Dialhook-Token", "wrong")), http.StatusUnauthorized, "unauthorized")
	if lvl, f = e.webhookLine("unauthorized"); lvl != zapcore.WarnLevel || f["reason"] != "bad token" || !strings.Contains(f["scheme"].(string), "token") {
		t.Errorf("401 line: %s %v", lvl, f)
	}
	if _, ok := f["cause"]; ok {
		t.Errorf("401 line says the reason twice (cause and reason): %v", f)
	}

	wantStatus(t, e.do(postReq("/webhooks/generic?wait=5s", genericLead("lx-4", "099 123 456"))), http.StatusOK, "placed")
	if lvl, f = e.webhookLine("placed"); lvl != zapcore.InfoLevel || f["status"] != int64(200) {
		t.Errorf("waited line: %s %v", lvl, f)
	}
	noSecrets(t, "the log", e.logText())
}

// A dry run's line says what the event would be; an unmatched uContact
// event's line names the GUID (or agent) and why it matched nothing.
func TestDryRunAndUnmatchedLogs(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(loopback(postReq("/webhooks/generic?dry_run=true", genericLead("lg-1", "099 123 456"))))
	if lvl, f := e.webhookLine("dry_run"); lvl != zapcore.InfoLevel || f["would_be"] != "queued" {
		t.Errorf("dry-run line: %s %v", lvl, f)
	}

	guid := "00000000-0000-0000-0000-00000000abcd"
	body := `{"event":"FinishInteraction","date":"2023-48-13 06:48:51","guid":"` + guid + `"}`
	wantStatus(t, e.do(postReq("/webhooks/uc", []byte(body), "Content-Type", "application/json", "X-Dialhook-Token", ucEventsToken)),
		http.StatusOK, "unmatched")
	lvl, f := e.webhookLine("unmatched")
	if lvl != zapcore.WarnLevel || f["guid"] != guid || f["reason"] != "no event placed with this GUID" {
		t.Errorf("unmatched line: %s %v", lvl, f)
	}

	e.logs.TakeAll()
	body = `{"event":"AgentRingNoAnswer","date":"2023-48-13 06:48:52","agent":"1009"}`
	wantStatus(t, e.do(postReq("/webhooks/uc", []byte(body), "Content-Type", "application/json", "X-Dialhook-Token", ucEventsToken)),
		http.StatusOK, "unmatched")
	lvl, f = e.webhookLine("unmatched")
	if lvl != zapcore.WarnLevel || f["agent"] != "1009" || !strings.Contains(f["reason"].(string), "match_window") {
		t.Errorf("unmatched AgentRingNoAnswer line: %s %v", lvl, f)
	}
}

// Answers are JSON as users read them: "Ventas->", not "Ventas-\u003e".
func TestJSONNotHTMLEscaped(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(postReq("/webhooks/generic?wait=5s", genericLead("esc-1", "099 123 456")))
	if !strings.Contains(string(r.Body), `"outqueue":"Ventas->"`) || strings.Contains(string(r.Body), `\u003e`) {
		t.Errorf("answer escapes HTML: %s", r.Body)
	}
}

// The dry run shows the dedup key as the record keeps it, and says when a
// delivery would be a duplicate, of which event.
func TestDryRunSaysDuplicate(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := genericLead("dd-1", "099 123 456")
	dr := e.do(loopback(postReq("/webhooks/generic?dry_run=true", body)))
	if !strings.Contains(string(dr.Body), `"dedup_key":"dd-1"`) || !strings.Contains(string(dr.Body), `"would_be":"queued"`) {
		t.Fatalf("dry run of a new event = %s", dr.Body)
	}
	m := wantStatus(t, e.do(postReq("/webhooks/generic", body)), http.StatusAccepted, "queued")
	if rec := e.event(m["event_id"].(string)); rec["dedup_key"] != "dd-1" {
		t.Errorf("record dedup_key = %v", rec["dedup_key"])
	}
	dr = e.do(loopback(postReq("/webhooks/generic?dry_run=true", body)))
	if !strings.Contains(string(dr.Body), `"would_be":"duplicate"`) || !strings.Contains(string(dr.Body), `"event_id":"`+m["event_id"].(string)+`"`) {
		t.Fatalf("dry run of a redelivery = %s", dr.Body)
	}
}
