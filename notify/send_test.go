package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dialhook/notify"
)

// received is what a test receiver got.
type received struct {
	header http.Header
	body   []byte
	path   string
}

// receiver answers every request with answer and keeps what it got.
func receiver(t *testing.T, answer http.HandlerFunc) (*httptest.Server, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{header: r.Header.Clone(), body: body, path: r.URL.Path})
		mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

func status(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

var sendNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func testMessage() notify.Message {
	return notify.Message{
		ID: notify.MessageID("ev-1", notify.CallCompleted), Type: notify.CallCompleted,
		Timestamp: sendNow.Add(-time.Minute), Data: json.RawMessage(`{"id":"ev-1","state":"completed"}`),
	}
}

func endpoint(t *testing.T, url string) (notify.Endpoint, string) {
	t.Helper()
	secret := notify.NewSecret()
	key, err := notify.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return notify.Endpoint{Name: "crm", URL: url, Secret: key}, secret
}

// Each answer gives its outcome, and every request the receiver got is a
// Standard Webhook the independent verifier accepts.
func TestSendOutcomes(t *testing.T) {
	cases := []struct {
		name       string
		answer     http.HandlerFunc
		outcome    notify.Outcome
		status     int
		errHas     string
		retryAfter time.Duration
	}{
		{"200", status(200, `{"ok":true}`), notify.Delivered, 200, "", 0},
		{"204", status(204, ""), notify.Delivered, 204, "", 0},
		{"410", status(410, "endpoint removed"), notify.Disable, 410, "HTTP 410 Gone: the endpoint asks for no more notifications; it is disabled until its configuration changes: endpoint removed", 0},
		{"500", status(500, "boom\n\tat line 3"), notify.Retry, 500, "HTTP 500 Internal Server Error: boom at line 3", 0},
		{"503 with a date", status(503, "", "Retry-After", sendNow.Add(2*time.Minute).Format(http.TimeFormat)), notify.Retry, 503, "HTTP 503 Service Unavailable", 2 * time.Minute},
		{"429", status(429, "slow down", "Retry-After", "30"), notify.Retry, 429, "HTTP 429 Too Many Requests: slow down", 30 * time.Second},
		{"429 for a day", status(429, "", "Retry-After", "86400"), notify.Retry, 429, "HTTP 429", time.Hour},
		{"408", status(408, ""), notify.Retry, 408, "HTTP 408 Request Timeout", 0},
		{"404", status(404, "no such hook"), notify.Retry, 404, "HTTP 404 Not Found: no such hook", 0},
		{"401", status(401, ""), notify.Retry, 401, "HTTP 401 Unauthorized", 0},
		{"redirect not followed", status(308, "", "Location", "/elsewhere"), notify.Retry, 308, "HTTP 308 Permanent Redirect: redirects are not followed; set the url to the final address", 0},
		{"unknown status", status(599, "\xff\xfeodd"), notify.Retry, 599, "HTTP 599: odd", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := receiver(t, tc.answer)
			ep, secret := endpoint(t, srv.URL+"/hooks/dialhook")
			m := testMessage()
			a := notify.Sender{UserAgent: "dialhook/test"}.Send(context.Background(), ep, m, sendNow)
			if a.Outcome != tc.outcome || a.Status != tc.status || !strings.HasPrefix(a.Error, tc.errHas) || a.RetryAfter != tc.retryAfter {
				t.Fatalf("attempt = %+v, want %s %d %q retry after %s", a, tc.outcome, tc.status, tc.errHas, tc.retryAfter)
			}
			if (a.Outcome == notify.Delivered) != (a.Error == "") {
				t.Fatalf("error %q with outcome %s", a.Error, a.Outcome)
			}
			if !a.At.Equal(sendNow) || a.Latency <= 0 {
				t.Fatalf("at %s, latency %s", a.At, a.Latency)
			}
			reqs := got()
			if len(reqs) != 1 || reqs[0].path != "/hooks/dialhook" {
				t.Fatalf("the receiver got %d requests (%v): a redirect was followed?", len(reqs), reqs)
			}
			checkRequest(t, reqs[0], secret, m)
		})
	}
}

// checkRequest checks one request against the spec, with the
// independent verifier.
func checkRequest(t *testing.T, r received, secret string, m notify.Message) {
	t.Helper()
	if err := verify(secret, r.header, r.body, sendNow); err != nil {
		t.Errorf("the verifier refuses the request: %v", err)
	}
	h := r.header
	if h.Get("webhook-id") != m.ID || h.Get("webhook-timestamp") != strconv.FormatInt(sendNow.Unix(), 10) ||
		h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "dialhook/test" ||
		!strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
		t.Errorf("headers = %v", h)
	}
	if string(r.body) != string(notify.Body(m)) {
		t.Errorf("body = %s, want Body(m)", r.body)
	}
}

// Without an answer, an attempt is retried and says why, in words that
// hold neither the secret nor the URL (which may carry a token).
func TestSendWithoutAnswer(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name   string
		url    string
		ctx    context.Context
		errHas string
	}{
		{"hangs past the timeout", slow.URL, context.Background(), "timeout: no answer in time"},
		{"connection refused", refused, context.Background(), "connection refused"},
		{"canceled", slow.URL, canceled, "canceled"},
		{"not a URL", "http://[::1", context.Background(), "the url cannot be requested"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url + "/hook?token=url-token-s3cret"
			if tc.name == "not a URL" {
				url = tc.url + "?token=url-token-s3cret"
			}
			ep, secret := endpoint(t, strings.Replace(url, "://", "://user:url-pass-s3cret@", 1))
			s := notify.Sender{Client: &http.Client{Timeout: 200 * time.Millisecond}}
			start := time.Now()
			a := s.Send(tc.ctx, ep, testMessage(), sendNow)
			if a.Outcome != notify.Retry || a.Status != 0 || a.Error != tc.errHas {
				t.Fatalf("attempt = %+v, want retry with %q", a, tc.errHas)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %s", time.Since(start))
			}
			for _, leak := range []string{"s3cret", secret[6:], "token", "user"} {
				if strings.Contains(a.Error, leak) {
					t.Errorf("the error shows %q: %s", leak, a.Error)
				}
			}
		})
	}
}

// A long answer is read only in part, and the error stays short.
func TestSendBoundsTheAnswer(t *testing.T) {
	huge := strings.Repeat("é", 1<<20)
	srv, _ := receiver(t, status(500, huge))
	ep, secret := endpoint(t, srv.URL)
	a := notify.Sender{}.Send(context.Background(), ep, testMessage(), sendNow)
	if a.Outcome != notify.Retry || len(a.Error) > notify.MaxErrorText || !strings.HasSuffix(a.Error, "é…") {
		t.Fatalf("attempt = %+v (error of %d bytes)", a, len(a.Error))
	}
	if strings.Contains(a.Error, secret[6:]) {
		t.Fatal("the error shows the secret")
	}
}

func TestWants(t *testing.T) {
	all := notify.Endpoint{}
	some := notify.Endpoint{Types: []notify.Type{notify.CallCompleted, notify.EventFailed}}
	from := notify.Endpoint{Sources: []string{"hubspot"}}
	both := notify.Endpoint{Types: []notify.Type{notify.CallCompleted}, Sources: []string{"hubspot", "close"}}
	cases := []struct {
		ep     notify.Endpoint
		t      notify.Type
		source string
		want   bool
	}{
		{all, notify.EventPlaced, "hubspot", true},
		{all, notify.CallDisposed, "", true},
		{some, notify.CallCompleted, "x", true},
		{some, notify.EventFailed, "x", true},
		{some, notify.EventPlaced, "x", false},
		{from, notify.EventPlaced, "hubspot", true},
		{from, notify.EventPlaced, "close", false},
		{from, notify.EventPlaced, "", false},
		{both, notify.CallCompleted, "close", true},
		{both, notify.CallDisposed, "close", false},
		{both, notify.CallCompleted, "zoho", false},
	}
	for _, tc := range cases {
		if got := notify.Wants(tc.ep, tc.t, tc.source); got != tc.want {
			t.Errorf("Wants(types %v, sources %v, %s, %q) = %v", tc.ep.Types, tc.ep.Sources, tc.t, tc.source, got)
		}
	}
}

// The fingerprint changes with every part of the configuration, and only
// with it.
func TestFingerprint(t *testing.T) {
	base := notify.Endpoint{Name: "crm", URL: "https://a.example/h", Secret: []byte("k"), Types: []notify.Type{"call.completed"}, Sources: []string{"hubspot"}}
	fp := base.Fingerprint()
	if again := base; again.Fingerprint() != fp || len(fp) != 16 {
		t.Fatalf("fingerprint %q not stable", fp)
	}
	for name, change := range map[string]func(*notify.Endpoint){
		"name":    func(e *notify.Endpoint) { e.Name = "crm2" },
		"url":     func(e *notify.Endpoint) { e.URL += "x" },
		"secret":  func(e *notify.Endpoint) { e.Secret = []byte("l") },
		"types":   func(e *notify.Endpoint) { e.Types = nil },
		"sources": func(e *notify.Endpoint) { e.Sources = []string{"close"} },
		"moved":   func(e *notify.Endpoint) { e.Types, e.Sources = nil, []string{"call.completed", "hubspot"} },
	} {
		e := base
		change(&e)
		if e.Fingerprint() == fp {
			t.Errorf("changing %s keeps the fingerprint", name)
		}
	}
}
