package handlers_test

import (
	"net/http"
	"testing"
)

// The console is mounted under /ui/ and / leads there; without it, both
// are 404 as before.
func TestConsoleMount(t *testing.T) {
	var seen []string
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		w.WriteHeader(http.StatusTeapot)
	})
	e := newEnv(t, envOptions{console: ui, noDispatcher: true})
	cases := []struct {
		method, path string
		status       int
		location     string
	}{
		{http.MethodGet, "/", http.StatusFound, "/ui/"},
		{http.MethodGet, "/ui", http.StatusFound, "/ui/"},
		{http.MethodGet, "/ui/", http.StatusTeapot, ""},
		{http.MethodGet, "/ui/events/abc?done=redial", http.StatusTeapot, ""},
		{http.MethodPost, "/ui/events/abc/redial", http.StatusTeapot, ""},
		{http.MethodGet, "/healthz", http.StatusOK, ""},
	}
	for _, c := range cases {
		r := e.do(newReq(c.method, c.path, nil))
		if r.Status != c.status || r.Header.Get("Location") != c.location {
			t.Errorf("%s %s = %d (Location %q), want %d %q", c.method, c.path, r.Status, r.Header.Get("Location"), c.status, c.location)
		}
	}
	want := []string{"GET /ui/", "GET /ui/events/abc?done=redial", "POST /ui/events/abc/redial"}
	if len(seen) != len(want) {
		t.Fatalf("the console saw %v, want %v (full paths)", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("the console saw %q, want %q", seen[i], want[i])
		}
	}

	off := newEnv(t, envOptions{noDispatcher: true})
	for _, path := range []string{"/", "/ui", "/ui/"} {
		if r := off.do(newReq(http.MethodGet, path, nil)); r.Status != http.StatusNotFound {
			t.Errorf("console off: GET %s = %d, want 404", path, r.Status)
		}
	}
}
