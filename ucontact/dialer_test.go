package ucontact_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"dialhook/ucontact"
)

const (
	taskPath     = "/Integra/resources/Dialers/DialerTask"
	withDataPath = "/Integra/resources/Agents/AgentCallwithData"
)

// The body is one form field, call, holding the JSON object with every
// key, in the documented order, "<" unescaped.
func TestTaskForm(t *testing.T) {
	when := "2026-11-30 09:00:00"
	for _, tc := range []struct {
		task ucontact.Task
		want string
	}{
		{ucontact.Task{Campaign: "POWER<-", Destination: "0123456789", Data: "idcustomer=7", Source: "source", Automatic: true},
			`{"calldate":null,"campaign":"POWER<-","destination":"0123456789","alternatives":"","agent":"","data":"idcustomer=7","source":"source","bulk":false,"automatic":true}`},
		{ucontact.Task{CallDate: &when, Campaign: "C", Destination: "1", Alternatives: "2,3"},
			`{"calldate":"2026-11-30 09:00:00","campaign":"C","destination":"1","alternatives":"2,3","agent":"","data":"","source":"","bulk":false,"automatic":false}`},
	} {
		body, err := tc.task.Form()
		if err != nil {
			t.Fatal(err)
		}
		v, err := url.ParseQuery(body)
		if err != nil || len(v) != 1 || v.Get("call") != tc.want {
			t.Errorf("form %q\n got call=%s\nwant call=%s", body, v.Get("call"), tc.want)
		}
	}
}

func fakeAt(t *testing.T, path string, status int, body string) (*ucontact.Client, *[]url.Values) {
	t.Helper()
	var got []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path || r.Header.Get("Authorization") != "Basic "+testToken {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		got = append(got, r.PostForm)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := ucontact.New(ucontact.Config{BaseURL: srv.URL, Token: testToken, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, &got
}

func TestDialerTaskAnswer(t *testing.T) {
	ctx := context.Background()
	task := ucontact.Task{Campaign: "POWER<-", Destination: "0123456789", Automatic: true}
	for _, tc := range []struct {
		body, raw string
		err       error
	}{
		{"0", "", ucontact.ErrRejected},
		{`"0"`, "", ucontact.ErrRejected},
		{" 1234\n", "1234", nil},
		{`"queued"`, "queued", nil},
		{strings.Repeat("é", 150), strings.Repeat("é", 100), nil},
		{"  ", "", ucontact.ErrUnexpectedAnswer},
	} {
		c, got := fakeAt(t, taskPath, http.StatusOK, tc.body)
		raw, err := c.DialerTask(ctx, task)
		if raw != tc.raw || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("answer %q: got %q, %v; want %q, %v", tc.body, raw, err, tc.raw, tc.err)
		}
		if len(*got) != 1 || !strings.Contains((*got)[0].Get("call"), `"campaign":"POWER<-"`) {
			t.Errorf("sent %v", *got)
		}
	}
	if c, _ := fakeAt(t, taskPath, http.StatusServiceUnavailable, ""); true {
		if _, err := c.DialerTask(ctx, task); !ucontact.Retryable(err) {
			t.Errorf("503: %v is not retryable", err)
		}
	}
}

func TestAgentCallWithData(t *testing.T) {
	ctx := context.Background()
	c, got := fakeAt(t, withDataPath, http.StatusOK, testGUID)
	id, err := c.AgentCallWithData(ctx, testParams(), "crm=hubspot&id=42")
	if err != nil || id.String() != testGUID {
		t.Fatalf("got %s, %v", id, err)
	}
	if f := (*got)[0]; f.Get("data") != "crm=hubspot&id=42" || f.Get("destination") != "099123456" || f.Get("outqueue") != "Ventas->" {
		t.Errorf("form %v", f)
	}
	c, _ = fakeAt(t, "/elsewhere", http.StatusOK, testGUID) // every path answers 404
	_, err = c.AgentCallWithData(ctx, testParams(), "x=1")
	if !errors.Is(err, ucontact.ErrNoResource) || ucontact.Retryable(err) || ucontact.Classify(err) != "no_resource" {
		t.Errorf("404: %v (%s)", err, ucontact.Classify(err))
	}
}
