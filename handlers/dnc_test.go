package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"dialhook/internal/samples"
)

func TestDoNotCallEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{})
	if r := e.admin(http.MethodPut, "/dnc/099%20123%20456"); r.Status != http.StatusOK || r.json(t)["number"] != "59899123456" {
		t.Fatalf("PUT = %s", r)
	}
	if r := e.admin(http.MethodPut, "/dnc/not-a-number"); r.Status != http.StatusBadRequest {
		t.Errorf("PUT junk = %s", r)
	}
	// A lead for that number is recorded blocked, never dialed.
	body := []byte(strings.Replace(string(samples.Body(samples.GenericCall)), "099 123 456", "+598 99 123 456", 1))
	r := e.do(postReq("/webhooks/flow?token="+samples.GenericToken, body, "Content-Type", "application/json"))
	if r.Status != http.StatusOK || r.json(t)["status"] != "blocked" {
		t.Fatalf("webhook for a listed number = %s", r)
	}
	e.settle()
	if n := len(e.fake.calls()); n != 0 {
		t.Errorf("%d AgentCalls for a listed number", n)
	}
	if list := e.admin(http.MethodGet, "/dnc?prefix=598"); !strings.Contains(string(list.Body), "59899123456") {
		t.Errorf("GET /dnc = %s", list)
	}
	imp := e.do(loopback(newReq(http.MethodPost, "/dnc/import", []byte("number\n099 000 111\n+598 99 000 222,from crm\nnope\n\n"))))
	if imp.Status != http.StatusOK || imp.json(t)["imported"] != float64(2) || imp.json(t)["refused"] != float64(1) {
		t.Errorf("import = %s", imp)
	}
	exp := e.admin(http.MethodGet, "/dnc/export")
	for _, n := range []string{"number,added_at,by", "59899000111", "59899000222", "59899123456"} {
		if !strings.Contains(string(exp.Body), n) {
			t.Errorf("export lacks %q:\n%s", n, exp.Body)
		}
	}
	if r := e.admin(http.MethodDelete, "/dnc/59899123456"); r.Status != http.StatusNoContent {
		t.Errorf("DELETE = %s", r)
	}
	if r := e.admin(http.MethodDelete, "/dnc/59899123456"); r.Status != http.StatusNotFound {
		t.Errorf("DELETE again = %s", r)
	}
	if r := e.do(newReq(http.MethodPut, "/dnc/099123456", nil, "X-Forwarded-For", "203.0.113.5")); r.Status != http.StatusForbidden {
		t.Errorf("proxied PUT = %s", r)
	}
}

// A CRM adds a number by webhook (the source's dnc_on): that event is
// blocked, and the number stays on the list for every source.
func TestDoNotCallByWebhook(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(postReq("/webhooks/dncflow", []byte(`{"event_id":"d1","destination":"099 555 666","owner":"ana@example.com","status":"Do not call"}`),
		"Content-Type", "application/json"))
	if r.Status != http.StatusOK || r.json(t)["status"] != "blocked" {
		t.Fatalf("dnc_on webhook = %s", r)
	}
	if got := e.admin(http.MethodGet, "/dnc?prefix=59899555666"); !strings.Contains(string(got.Body), `"by":"dncflow"`) {
		t.Errorf("list = %s", got)
	}
	body := strings.Replace(string(samples.Body(samples.GenericCall)), "099 123 456", "099 555 666", 1)
	r = e.do(postReq("/webhooks/flow?token="+samples.GenericToken, []byte(body), "Content-Type", "application/json"))
	if r.Status != http.StatusOK || r.json(t)["status"] != "blocked" {
		t.Errorf("another source's lead for the number = %s", r)
	}
}

// The dry run says which rule would stop the call.
func TestDryRunExplainsTheDoNotCallList(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.admin(http.MethodPut, "/dnc/099123456")
	r := e.do(loopback(postReq("/webhooks/flow?dry_run=true&token="+samples.GenericToken, samples.Body(samples.GenericCall), "Content-Type", "application/json")))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"would_be":"blocked"`) ||
		!strings.Contains(string(r.Body), "blocked: 59899123456 is on the do-not-call list since") {
		t.Errorf("dry run = %s", r)
	}
}
