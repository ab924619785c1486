package crmapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// operation is one of the four write-back calls, run against base.
type operation struct {
	name, crm, token string
	run              func(base string, client *http.Client) error
	updates          bool // a 404 means the call or activity is gone
}

var operations = []operation{
	{"hubspot create", "hubspot", hubspotToken, func(base string, c *http.Client) error {
		_, err := (&HubSpot{BaseURL: base, Token: hubspotToken, Client: c}).CreateCall(context.Background(), placedCall("contact", "501"))
		return err
	}, false},
	{"hubspot update", "hubspot", hubspotToken, func(base string, c *http.Client) error {
		return (&HubSpot{BaseURL: base, Token: hubspotToken, Client: c}).UpdateCall(context.Background(), "9001", HubSpotCall{Status: HubSpotCompleted})
	}, true},
	{"pipedrive add", "pipedrive", pipedriveToken, func(base string, c *http.Client) error {
		_, err := (&Pipedrive{BaseURL: base, Token: pipedriveToken, Client: c}).AddCallActivity(context.Background(), PipedriveActivity{PersonID: 42})
		return err
	}, false},
	{"pipedrive done", "pipedrive", pipedriveToken, func(base string, c *http.Client) error {
		return (&Pipedrive{BaseURL: base, Token: pipedriveToken, Client: c}).MarkDone(context.Background(), 77, CallSummary{Outcome: "completed"})
	}, true},
}

// Every failure is a *Error that says whether trying again can help, with
// Retry-After when the CRM gives it, what to fix when the credential is
// refused, the CRM's own words otherwise, and never the token, even when
// the CRM echoes it back.
func TestErrorClassification(t *testing.T) {
	later := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, op := range operations {
		theirs := `{"status":"error","success":false,"message":"Property values were not valid near ` + op.token +
			`","error":"Bad request","code":"ERR_BAD_REQUEST"}`
		for _, tc := range []struct {
			name       string
			status     int
			answer     string
			header     map[string]string
			retryable  bool
			retryAfter time.Duration // at least
			says       string
		}{
			{"401", http.StatusUnauthorized, theirs, nil, false, 0, "refused the"},
			{"403", http.StatusForbidden, theirs, nil, false, 0, "refused the"},
			{"400", http.StatusBadRequest, theirs, nil, false, 0, "Property values were not valid near [token]: Bad request"},
			{"404", http.StatusNotFound, theirs, nil, false, 0, map[bool]string{true: "no such", false: "Bad request"}[op.updates]},
			{"409", http.StatusConflict, `{}`, nil, false, 0, "Conflict"},
			{"429 Retry-After seconds", http.StatusTooManyRequests, theirs, map[string]string{"Retry-After": "7"}, true, 7 * time.Second, "Too Many Requests"},
			{"503 Retry-After date", http.StatusServiceUnavailable, `{}`, map[string]string{"Retry-After": later}, true, 59 * time.Minute, "Service Unavailable"},
			{"500", http.StatusInternalServerError, `oops`, nil, true, 0, "Internal Server Error"},
			{"200 not JSON", http.StatusOK, `<html>`, nil, false, 0, "not JSON"},
			{"2xx without id", http.StatusOK, `{"success":true,"data":{}}`, nil, false, 0, map[bool]string{true: "", false: "no "}[op.updates]},
		} {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				f := newFakeCRM(t, tc.status, tc.answer, tc.header)
				err := op.run(f.URL, nil)
				if tc.says == "" { // an update answered 2xx: done
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					return
				}
				ae := asError(t, err, op)
				if ae.Status != tc.status || ae.Retryable != tc.retryable {
					t.Errorf("status %d retryable %v, want %d %v", ae.Status, ae.Retryable, tc.status, tc.retryable)
				}
				if ae.RetryAfter < tc.retryAfter || (tc.retryAfter == 0 && ae.RetryAfter != 0) {
					t.Errorf("RetryAfter %v, want %v", ae.RetryAfter, tc.retryAfter)
				}
				if !strings.Contains(err.Error(), tc.says) {
					t.Errorf("%q does not say %q", err, tc.says)
				}
			})
		}
	}
}

// No answer at all (nothing listening, or too slow) can be tried again,
// and the error names neither the URL's secrets nor the token.
func TestNoAnswer(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the handlers
	for _, op := range operations {
		for name, run := range map[string]func() error{
			"connection refused": func() error { return op.run(gone.URL, nil) },
			"timeout":            func() error { return op.run(slow.URL, &http.Client{Timeout: 50 * time.Millisecond}) },
		} {
			ae := asError(t, run(), op)
			if !ae.Retryable || ae.Status != 0 || !strings.Contains(ae.Msg, "no answer") {
				t.Errorf("%s %s: %#v", op.name, name, ae)
			}
		}
	}
}

// A redirect is not followed: the token would travel with it.
func TestRedirectNotFollowed(t *testing.T) {
	elsewhere := newFakeCRM(t, http.StatusOK, `{"id":"1","success":true,"data":{"id":1}}`, nil)
	for _, op := range operations {
		f := newFakeCRM(t, http.StatusTemporaryRedirect, `{}`, map[string]string{"Location": elsewhere.URL + "/steal"})
		ae := asError(t, op.run(f.URL, &http.Client{}), op)
		if ae.Retryable || !strings.Contains(ae.Msg, "redirect") {
			t.Errorf("%s: %#v", op.name, ae)
		}
	}
	if n := elsewhere.count(); n != 0 {
		t.Errorf("the redirect target received %d requests", n)
	}
}

// asError checks err is the operation's *Error, without its token.
func asError(t *testing.T, err error, op operation) *Error {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("%s: %#v is not a *Error", op.name, err)
	}
	if ae.CRM != op.crm {
		t.Errorf("CRM %q, want %q", ae.CRM, op.crm)
	}
	if strings.Contains(err.Error(), op.token) || strings.Contains(err.Error(), op.token[:12]) {
		t.Errorf("the error shows the token: %s", err)
	}
	return ae
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, " 120 ": 2 * time.Minute, "-3": 0, "soon": 0,
		"Fri, 27 Nov 2026 12:00:30 GMT": 30 * time.Second, "Fri, 27 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// The CRM's own message is kept on one line, bounded, and cut between
// characters.
func TestTheirMessage(t *testing.T) {
	long := `{"message":"` + strings.Repeat("ñ", 400) + `"}`
	got := theirMessage([]byte(long))
	if !utf8.ValidString(got) || len(got) > maxTheirs+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("%d bytes: %q", len(got), got)
	}
	if got := theirMessage([]byte(`{"message":"line one\n  line two","error":{"code":1}}`)); got != "line one line two" {
		t.Errorf("%q", got)
	}
	if got := theirMessage([]byte(`not json`)); got != "" {
		t.Errorf("%q", got)
	}
}

// The summary's values come from webhooks: they are escaped, never markup.
func TestCallSummaryEscapes(t *testing.T) {
	s := CallSummary{Agent: `<img src=x onerror="alert(1)">`, GUID: "g&1"}
	if got, want := s.HTML(), `Agent: &lt;img src=x onerror=&#34;alert(1)&#34;&gt;<br>uContact call GUID: g&amp;1`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if (CallSummary{}).HTML() != "" {
		t.Error("an empty summary renders as text")
	}
}
