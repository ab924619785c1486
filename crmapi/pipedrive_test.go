package crmapi

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// AddCallActivity posts a v2 "call" activity: the person as the primary
// participant (person_id is read-only in v2), done as a boolean, the token
// in x-api-token and never in the URL.
func TestPipedriveAddCallActivity(t *testing.T) {
	summary := CallSummary{Agent: "maria", Destination: "+59899765432", GUID: "g-1"}
	note := `"Agent: maria<br>Destination: +59899765432<br>uContact call GUID: g-1"`
	for _, tc := range []struct {
		name string
		a    PipedriveActivity
		want string
	}{
		{"person", PipedriveActivity{Subject: "Call to +598 99 765 432", Summary: summary, PersonID: 42},
			`{"type":"call","done":false,"subject":"Call to +598 99 765 432","note":` + note + `,
			  "participants":[{"person_id":42,"primary":true}]}`},
		{"deal and person", PipedriveActivity{Subject: "Call", Summary: summary, PersonID: 42, DealID: 7, OwnerID: 3},
			`{"type":"call","done":false,"subject":"Call","note":` + note + `,
			  "participants":[{"person_id":42,"primary":true}],"deal_id":7,"owner_id":3}`},
		{"organization, due, done", PipedriveActivity{OrgID: 9, Done: true, Due: placedAt, Duration: 61 * time.Second},
			`{"type":"call","done":true,"org_id":9,"due_date":"2026-11-27","due_time":"17:03","duration":"00:01"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCRM(t, http.StatusOK, `{"success":true,"data":{"id":77,"type":"call"}}`, nil)
			p := &Pipedrive{BaseURL: f.URL, Token: pipedriveToken}
			id, err := p.AddCallActivity(context.Background(), tc.a)
			if err != nil || id != 77 {
				t.Fatalf("AddCallActivity = %d, %v", id, err)
			}
			r := f.only(t)
			if r.Method != http.MethodPost || r.Path != "/api/v2/activities" {
				t.Errorf("%s %s", r.Method, r.Path)
			}
			checkHeaders(t, r, "X-Api-Token", pipedriveToken)
			sameJSON(t, r.Body, tc.want)
		})
	}
}

// MarkDone patches done: true and the note with the outcome.
func TestPipedriveMarkDone(t *testing.T) {
	f := newFakeCRM(t, http.StatusOK, `{"success":true,"data":{"id":77,"done":true}}`, nil)
	p := &Pipedrive{BaseURL: f.URL + "/", Token: pipedriveToken}
	err := p.MarkDone(context.Background(), 77, CallSummary{Agent: "maria", GUID: "g-1", Outcome: "no answer"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.only(t)
	if r.Method != http.MethodPatch || r.Path != "/api/v2/activities/77" {
		t.Errorf("%s %s", r.Method, r.Path)
	}
	checkHeaders(t, r, "X-Api-Token", pipedriveToken)
	sameJSON(t, r.Body, `{"done":true,"note":"Agent: maria<br>uContact call GUID: g-1<br>Outcome: no answer"}`)
}

// What Pipedrive would refuse is refused before anything is sent,
// including a base URL that already names an API version.
func TestPipedriveRefusesBadActivities(t *testing.T) {
	f := newFakeCRM(t, http.StatusOK, `{"success":true,"data":{"id":1}}`, nil)
	ctx := context.Background()
	p := &Pipedrive{BaseURL: f.URL, Token: pipedriveToken}
	for name, call := range map[string]func() error{
		"no record": func() error { _, err := p.AddCallActivity(ctx, PipedriveActivity{Subject: "Call"}); return err },
		"bad id":    func() error { return p.MarkDone(ctx, 0, CallSummary{}) },
		"v1 base": func() error {
			_, err := (&Pipedrive{BaseURL: f.URL + "/api/v1", Token: pipedriveToken}).AddCallActivity(ctx, PipedriveActivity{PersonID: 1})
			return err
		},
		"v2 base": func() error {
			return (&Pipedrive{BaseURL: f.URL + "/api/v2/", Token: pipedriveToken}).MarkDone(ctx, 5, CallSummary{})
		},
		"bad base": func() error {
			return (&Pipedrive{BaseURL: "company.pipedrive.com", Token: pipedriveToken}).MarkDone(ctx, 5, CallSummary{})
		},
	} {
		err := call()
		var ae *Error
		if !errors.As(err, &ae) || ae.Retryable || ae.CRM != "pipedrive" {
			t.Errorf("%s: %#v, want a non-retryable *Error", name, err)
		}
	}
	if n := f.count(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestPipedriveDefaultBaseURL(t *testing.T) {
	r, err := (&Pipedrive{Token: pipedriveToken}).request(http.MethodPost, "/api/v2/activities", nil, "")
	if err != nil || r.url != "https://api.pipedrive.com/api/v2/activities" {
		t.Errorf("url %q, %v", r.url, err)
	}
}
