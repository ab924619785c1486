package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"dialhook/notify"
)

// goodSecret is the Standard Webhooks test vector's secret (24 bytes).
const goodSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestNotifyLoads(t *testing.T) {
	p := writeFile(t, `
sources: {hubspot: {kind: generic}, close: {kind: generic}}
notify_retry_for: 36h
notify:
  - name: flow
    url: https://hooks.example.com/a
    secret: ${NOTIFY_SECRET}
    types: [call.completed, call.disposed]
    sources: [hubspot]
  - url: https://Hooks.Example.com/b
    secret: `+goodSecret+`
  - url: https://hooks.example.com/c
    secret: `+goodSecret+`
  - name: hooks.example.com-3
    url: http://127.0.0.1:9000/d
    secret: `+goodSecret+`
`)
	c, err := Load(p, env(map[string]string{"NOTIFY_SECRET": goodSecret}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NotifyRetryFor.D() != 36*time.Hour {
		t.Errorf("notify_retry_for = %s", c.NotifyRetryFor.D())
	}
	// Unnamed endpoints are named after their host, numbered past the
	// names already taken.
	if names := c.NotifyNames(); !slices.Equal(names, []string{"flow", "hooks.example.com", "hooks.example.com-2", "hooks.example.com-3"}) {
		t.Errorf("names = %v", names)
	}
	eps, err := c.NotifyEndpoints()
	if err != nil || len(eps) != 4 {
		t.Fatalf("endpoints = %v, %v", eps, err)
	}
	want, _ := notify.ParseSecret(goodSecret)
	e := eps[0]
	if e.Name != "flow" || e.URL != "https://hooks.example.com/a" || string(e.Secret) != string(want) ||
		!slices.Equal(e.Types, []notify.Type{notify.CallCompleted, notify.CallDisposed}) || !slices.Equal(e.Sources, []string{"hubspot"}) {
		t.Errorf("endpoint = %+v", e)
	}
	if !notify.Wants(eps[1], notify.EventFailed, "close") {
		t.Errorf("an endpoint without filters = %+v", eps[1])
	}
	if d, _ := Load("", env(nil)); d.NotifyRetryFor.D() != notify.DefaultRetryFor || len(d.Notify) != 0 {
		t.Errorf("defaults: %s, %v", d.NotifyRetryFor.D(), d.Notify)
	}
}

// Each problem of a notify endpoint is reported at its line, under the
// path the user wrote, with what to do; every one at once.
func TestNotifyProblems(t *testing.T) {
	p, got := problemsOf(t, `sources: {hubspot: {kind: generic}}
notify:
  - url: ftp://user:pw-s3cret@example.com/x
    secret: whsec_c2hvcnQ=
    types: [call.complete, call.finished]
    sources: [hubspt, zoho]
  - name: "bad name!"
    secret: pw-s3cret
  - name: dup
    url: https://example.com/
    secert: x
  - name: dup
    url: https://example.com/
    secret: whsec_not base64!
  - url: https://example.com/
`, nil)
	types := "event.placed, event.rejected, event.failed, event.unknown, event.agent_no_answer, event.handed_off, call.completed, call.disposed"
	want := []string{
		p + `:3:5: notify[0].url: "ftp://user:xxxxx@example.com/x" must be an absolute http(s) URL such as https://example.com/hooks/dialhook`,
		p + ":4:5: notify[0].secret: the secret's key must be 24 to 64 bytes (it has 5); `dialhook secret` prints a new one",
		p + ":5:13: notify[0].types[0]: \"call.complete\" is no notification type; did you mean `call.completed`?",
		p + `:5:28: notify[0].types[1]: "call.finished" is no notification type; the types are ` + types,
		p + ":6:15: notify[0].sources[0]: no source is named \"hubspt\"; did you mean `hubspot`?",
		p + `:6:23: notify[0].sources[1]: no source is named "zoho"; the sources are hubspot`,
		p + `:7:5: notify[1].name: "bad name!": use letters, digits, '.', '-' and '_' (at most 64)`,
		p + ":7:5: notify[1].url: must be set: the address notifications are POSTed to, e.g. https://example.com/hooks/dialhook",
		p + ":8:5: notify[1].secret: the secret does not start with whsec_; `dialhook secret` prints a new one",
		p + ":11:5: notify[2].secert: unknown key; did you mean `secret`?",
		p + ":12:5: notify[3].name: \"dup\" is notify[2]'s name too; give each endpoint its own",
		p + ":14:5: notify[3].secret: the secret is not whsec_ followed by standard base64 (illegal base64 data at input byte 3); `dialhook secret` prints a new one",
		p + ":15:5: notify[4].secret: must be set: `dialhook secret` prints a new one; give the receiver the same value",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if text := strings.Join(got, "\n"); strings.Contains(text, "s3cret") || strings.Contains(text, "c2hvcnQ") {
		t.Errorf("a problem shows a secret:\n%s", text)
	}
}

func TestNotifyRetryFor(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DIALHOOK_NOTIFY_RETRY_FOR": "0s"}, "notify_retry_for (DIALHOOK_NOTIFY_RETRY_FOR): must be greater than zero"},
		{map[string]string{"DIALHOOK_NOTIFY_RETRY_FOR": "800h"},
			"notify_retry_for (DIALHOOK_NOTIFY_RETRY_FOR): 800h0m0s is longer than retention 720h0m0s; an event must be kept while its notifications are retried"},
		{map[string]string{"DIALHOOK_NOTIFY_RETRY_FOR": "soon"}, `notify_retry_for (DIALHOOK_NOTIFY_RETRY_FOR): "soon" is not a duration`},
	}
	for _, tc := range cases {
		_, err := Load("", env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
	if _, err := Load("", env(map[string]string{"DIALHOOK_NOTIFY_RETRY_FOR": "72h"})); err != nil {
		t.Errorf("72h: %v", err)
	}
}

// notify must be a list of sections; a wrong shape is reported as such,
// without quoting a secret.
func TestNotifyShape(t *testing.T) {
	for body, want := range map[string]string{
		"notify: https://example.com\n":                             `:1:9: notify: got "https://example.com"; want a list such as [a, b]`,
		"notify: [https://example.com]\n":                           `:1:10: notify[0]: got "https://example.com"; want a section of settings (name, url, secret, types, …)`,
		"notify: [{url: https://a.example, secret: [whsec_x]}]\n":   ":1:43: notify[0].secret: got a list; want text",
		"notify: [{url: https://a.example, secret: {s3cret: 1}}]\n": ":1:43: notify[0].secret: got a section of keys; want text",
	} {
		p, got := problemsOf(t, body, nil)
		if len(got) == 0 || got[0] != p+want {
			t.Errorf("%q: problems %q, want first %q", body, got, p+want)
		}
		if strings.Contains(strings.Join(got, "\n"), "s3cret") {
			t.Errorf("%q: a problem quotes the secret: %q", body, got)
		}
	}
}

func TestNotifySummaryMasksSecrets(t *testing.T) {
	c, err := Load(writeFile(t, "notify:\n  - url: https://u:url-s3cret@example.com/h\n    secret: "+goodSecret+"\n    types: [call.completed]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	sum := c.Summary()
	text := fmt.Sprint(sum)
	for _, s := range []string{"url-s3cret", goodSecret[6:]} {
		if strings.Contains(text, s) {
			t.Errorf("summary shows %q: %s", s, text)
		}
	}
	ep := sum["notify"].([]any)[0].(map[string]any)
	if ep["secret"] != "***" || ep["url"] != "https://u:xxxxx@example.com/h" || fmt.Sprint(ep["types"]) != "[call.completed]" {
		t.Errorf("summary of the endpoint = %v", ep)
	}
	if sum["notify_retry_for"] != "24h0m0s" {
		t.Errorf("notify_retry_for = %v", sum["notify_retry_for"])
	}
}
