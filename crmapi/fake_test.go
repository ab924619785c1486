package crmapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
)

// The tokens the tests use: long enough that finding one in an error's
// text cannot be a coincidence.
const (
	hubspotToken   = "pat-na1-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	pipedriveToken = "659c9fddb16335e48cc67114694b52074e812e03"
)

// received is what the fake CRM saw of one request.
type received struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   any // the JSON body, decoded
}

// fakeCRM answers every request with status, headers and answer, and
// records what it received.
type fakeCRM struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newFakeCRM(t *testing.T, status int, answer string, header map[string]string) *fakeCRM {
	t.Helper()
	f := &fakeCRM{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body any
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Errorf("the body is not JSON: %v: %s", err, raw)
			}
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		f.mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(f.Close)
	return f
}

// only is the one request the fake received.
func (f *fakeCRM) only(t *testing.T) received {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 1 {
		t.Fatalf("the fake received %d requests, want 1", len(f.reqs))
	}
	return f.reqs[0]
}

func (f *fakeCRM) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// sameJSON fails unless got is the JSON document want.
func sameJSON(t *testing.T, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("body\n got %s\nwant %s", g, want)
	}
}

// checkHeaders checks what every request carries: JSON in and out, and
// the credential where the CRM wants it.
func checkHeaders(t *testing.T, r received, authHeader, authValue string) {
	t.Helper()
	if got := r.Header.Get(authHeader); got != authValue {
		t.Errorf("%s = %q, want %q", authHeader, got, authValue)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	if r.RawQuery != "" {
		t.Errorf("query %q: nothing belongs in the URL", r.RawQuery)
	}
}
