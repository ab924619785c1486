package crm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"dialhook/mapping"
)

// testNow is the receive time of every test request: 2026-11-25T12:00:00Z.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// secondsAround is testNow as a Unix timestamp in seconds (Close's and
// Standard Webhooks'), and the timestamps d before and d after it.
func secondsAround(d time.Duration) (now, before, after string) {
	at := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	return at(testNow), at(testNow.Add(-d)), at(testNow.Add(d))
}

// newRequest builds a request as the handler would, received on
// http://localhost:8080; hdr holds header name/value pairs.
func newRequest(method, target string, body []byte, hdr ...string) *Request {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return &Request{Method: method, URL: u, Host: "localhost:8080", Header: h, Body: body, Now: testNow}
}

func post(target string, body []byte, hdr ...string) *Request {
	return newRequest(http.MethodPost, target, body, hdr...)
}

func mustNew(t testing.TB, cfg Config) Adapter {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// authCase is one Authenticate expectation: want is nil, ErrUnauthenticated
// or ErrMalformed; reason, when set, is the *AuthError's reason.
type authCase struct {
	name   string
	req    *Request
	want   error
	reason string
}

// runAuth runs the cases and checks that no error text contains any of the
// secrets (configured secrets, expected signatures).
func runAuth(t *testing.T, a Adapter, cases []authCase, secrets ...string) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.Authenticate(c.req)
			checkErr(t, err, c.want, secrets...)
			if c.reason != "" {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Reason != c.reason {
					t.Errorf("error %v, want reason %q", err, c.reason)
				}
			}
		})
	}
}

func checkErr(t *testing.T, err, want error, secrets ...string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error %v, want %v", err, want)
	}
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q discloses a secret or expected signature", err)
		}
	}
	if errors.Is(err, ErrUnauthenticated) {
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Errorf("unauthenticated error %v is not an *AuthError", err)
		}
	}
}

// mustParse is parseAt for a request received at testNow, whose events
// must also hold JSON objects.
func mustParse(t *testing.T, a Adapter, r *Request) *Batch {
	t.Helper()
	if r.Now != testNow {
		t.Fatalf("request received at %v, want testNow", r.Now)
	}
	b := parseAt(t, a, r)
	for _, ev := range b.Events {
		if !json.Valid(ev.Record) || !strings.HasPrefix(strings.TrimSpace(string(ev.Record)), "{") {
			t.Errorf("record is not a JSON object: %s", ev.Record)
		}
	}
	return b
}

func one(t *testing.T, b *Batch) mapping.Event {
	t.Helper()
	if len(b.Events) != 1 || b.Ignored != "" {
		t.Fatalf("got %d events (ignored %q), want 1", len(b.Events), b.Ignored)
	}
	return b.Events[0]
}

// field returns a record field as JSON text.
func field(t *testing.T, ev mapping.Event, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev.Record, &m); err != nil {
		t.Fatal(err)
	}
	return string(m[key])
}

func wantEvent(t *testing.T, ev mapping.Event, dedup, objectType, recordID, action string) {
	t.Helper()
	if ev.DedupKey != dedup || ev.ObjectType != objectType || ev.RecordID != recordID || ev.Action != action {
		t.Errorf("event (dedup %q, type %q, id %q, action %q), want (%q, %q, %q, %q)",
			ev.DedupKey, ev.ObjectType, ev.RecordID, ev.Action, dedup, objectType, recordID, action)
	}
}

// queryHash is a separate computation of a BodyHash with query parameters:
// SHA-256 over "dialhook-query", NUL, the canonical (sorted, escaped)
// query, NUL, the body.
func queryHash(canonical string, body []byte) string {
	if canonical == "" {
		s := sha256.Sum256(body)
		return hex.EncodeToString(s[:])
	}
	s := sha256.Sum256([]byte("dialhook-query\x00" + canonical + "\x00" + string(body)))
	return hex.EncodeToString(s[:])
}
