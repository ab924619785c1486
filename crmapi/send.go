package crmapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// maxTheirs bounds how much of a CRM's own error message an Error carries.
const maxTheirs = 300

// CallSummary is what a write-back tells the CRM about a call, composed
// into a call's body (HubSpot) or an activity's note (Pipedrive).
type CallSummary struct {
	Agent       string // the uContact agent who took the call
	Destination string // the number dialed
	GUID        string // uContact's interaction GUID
	Outcome     string // what came of it ("completed", a disposition...); "" while placed
}

// HTML renders the summary as lines of escaped text joined by <br>: both
// HubSpot's call body and Pipedrive's note are rich text, and the values
// come from webhooks, so none of them may inject markup. Empty fields are
// left out.
func (s CallSummary) HTML() string {
	var lines []string
	for _, l := range [][2]string{
		{"Agent", s.Agent}, {"Destination", s.Destination}, {"uContact call GUID", s.GUID}, {"Outcome", s.Outcome},
	} {
		if l[1] != "" {
			lines = append(lines, html.EscapeString(l[0]+": "+l[1]))
		}
	}
	return strings.Join(lines, "<br>")
}

// request is one JSON call to a CRM's API, answered with the body and
// status of a 2xx or a *Error.
type request struct {
	crm    string       // names the CRM in errors
	client *http.Client // nil: a client with a 15s timeout
	method string
	url    string
	body   any         // sent as JSON; nil sends no body
	header http.Header // the credentials
	secret string      // the credential: scrubbed from every message
	// refused says what to fix when the CRM answers 401 or 403.
	refused func(status int) string
	missing string // what a 404 means
}

// send makes the call. A redirect is never followed: the credential travels
// in a header that net/http would forward to another host.
func send(ctx context.Context, r request) ([]byte, int, error) {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, 0, r.fail(0, false, "cannot encode the request: "+err.Error())
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, 0, r.fail(0, false, "bad base URL")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := http.Client{Timeout: 15 * time.Second}
	if r.client != nil {
		hc = *r.client
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error names the URL: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, 0, r.fail(0, true, "no answer: "+err.Error())
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, 0, r.fail(resp.StatusCode, true, "answer cut short")
	}
	if s := resp.StatusCode; s >= 200 && s < 300 {
		if !json.Valid(answer) {
			return nil, 0, r.fail(s, false, "the answer is not JSON")
		}
		return answer, s, nil
	}
	return nil, 0, r.classify(resp, answer)
}

// classify turns a non-2xx answer into a *Error: 408, 429 and 5xx can be
// tried again (after Retry-After when given); anything else cannot.
func (r request) classify(resp *http.Response, answer []byte) *Error {
	s := resp.StatusCode
	theirs := theirMessage(answer)
	with := func(msg string) string {
		if theirs == "" {
			return msg
		}
		return msg + " (" + r.crm + " says: " + theirs + ")"
	}
	switch {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return r.fail(s, false, with(r.refused(s)))
	case s == http.StatusNotFound && r.missing != "":
		return r.fail(s, false, with(r.missing))
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		e := r.fail(s, true, with(http.StatusText(s)))
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	case s >= 300 && s < 400:
		return r.fail(s, false, "the API answered with a redirect: check the base URL")
	}
	if theirs == "" {
		theirs = http.StatusText(s)
	}
	return r.fail(s, false, theirs)
}

// fail builds the *Error, the credential scrubbed from its message.
func (r request) fail(status int, retryable bool, msg string) *Error {
	if r.secret != "" {
		msg = strings.ReplaceAll(msg, r.secret, "[token]")
	}
	return &Error{CRM: r.crm, Status: status, Retryable: retryable, Msg: msg}
}

// theirMessage is the CRM's own error message, on one line and bounded:
// HubSpot's "message", Pipedrive's "error" (and "error_info").
func theirMessage(answer []byte) string {
	var parts []string
	for _, path := range []string{"message", "error", "error_info"} {
		if v := gjson.GetBytes(answer, path); v.Type == gjson.String && v.Str != "" {
			parts = append(parts, v.Str)
		}
	}
	msg := strings.Join(strings.Fields(strings.Join(parts, ": ")), " ")
	if len(msg) > maxTheirs {
		cut := maxTheirs
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// retryAfter reads a Retry-After value: seconds or an HTTP date. Zero when
// absent, unreadable or already past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// badInput is a call refused before it is sent: trying again cannot help.
func badInput(crm, format string, args ...any) *Error {
	return &Error{CRM: crm, Msg: fmt.Sprintf(format, args...)}
}

// pathID checks an id that goes into a URL path.
func pathID(crm, what, id string) (string, error) {
	if id == "" || strings.ContainsAny(id, "/?#%") {
		return "", badInput(crm, "bad %s id %q", what, id)
	}
	return url.PathEscape(id), nil
}
