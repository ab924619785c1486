package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dialhook/internal/testredis"
)

// fakeUContact is a stand-in AgentCall endpoint that records every call.
type fakeUContact struct {
	mu     sync.Mutex
	forms  []url.Values
	auths  []string
	answer func(n int) (int, string)
	onCall func(destination string) // optional: told of every call
	srv    *httptest.Server
}

func newFake(t *testing.T, answer func(n int) (int, string)) *fakeUContact {
	f := &fakeUContact{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Integra/resources/Agents/AgentCall" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		n := len(f.forms)
		onCall := f.onCall
		f.mu.Unlock()
		if onCall != nil {
			onCall(r.PostForm.Get("destination"))
		}
		status, body := f.answer(n)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUContact) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.forms)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startService runs run() like main does and waits for /healthz.
func startService(t *testing.T, env map[string]string, args ...string) (base string, logs *syncBuffer) {
	t.Helper()
	addr := freePort(t)
	env["DIALHOOK_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), func(k string) string { return env[k] }, nil, logs, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not stop")
		}
	})
	base = "http://" + addr
	for i := 0; i < 200; i++ {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base, logs
		}
		select {
		case err := <-done:
			t.Fatalf("run stopped: %v\n%s", err, logs.String())
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("service did not start\n%s", logs.String())
	return "", nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func post(t *testing.T, u, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func get(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

const lead = `{"event_id":"%s","callerid":"59821234567","agent":"1001","phone":"1001","context":"agentes","outqueue":"Ventas->","destination":"59899123456"}`

func TestEndToEnd(t *testing.T) {
	for _, storeKind := range []string{"memory", "redis"} {
		t.Run(storeKind, func(t *testing.T) {
			guid := "8cf8570e-60e7-44ed-b799-3baab211b04d"
			fake := newFake(t, func(n int) (int, string) {
				if n == 2 {
					return 200, "0"
				}
				return 200, guid + "\n"
			})
			env := map[string]string{"UCONTACT_BASE_URL": fake.srv.URL, "UCONTACT_TOKEN": "dG9rZW4=", "DIALHOOK_WORKERS": "2"}
			if storeKind == "redis" {
				// A namespace of its own is not configurable from the
				// environment: use a database of its own instead.
				env["DIALHOOK_REDIS_URL"] = strings.TrimSuffix(testredis.URL(t), "/0") + "/9"
				flushDB(t, env["DIALHOOK_REDIS_URL"])
			}
			base, logs := startService(t, env)

			// One webhook → exactly one AgentCall; ?wait returns the GUID.
			status, ans := post(t, base+"/webhooks/generic?wait=10s", fmt.Sprintf(lead, "e2e-1"))
			if status != 200 || ans["status"] != "placed" || ans["call_guid"] != guid {
				t.Fatalf("first delivery = %d %v", status, ans)
			}
			if fake.calls() != 1 {
				t.Fatalf("%d AgentCalls, want 1", fake.calls())
			}
			form, auth := fake.forms[0], fake.auths[0]
			want := url.Values{"callerid": {"59821234567"}, "agent": {"1001"}, "phone": {"1001"}, "tech": {"SIP"},
				"context": {"agentes"}, "outqueue": {"Ventas->"}, "destination": {"59899123456"}}
			if fmt.Sprint(form) != fmt.Sprint(want) {
				t.Fatalf("form = %v, want %v", form, want)
			}
			if auth != "Basic dG9rZW4=" {
				t.Fatalf("Authorization = %q", auth)
			}
			id := ans["event_id"].(string)

			// A redelivery: 200 duplicate with the first id and GUID, no second call.
			status, ans = post(t, base+"/webhooks/generic", fmt.Sprintf(lead, "e2e-1"))
			if status != 200 || ans["status"] != "duplicate" || ans["event_id"] != id || ans["call_guid"] != guid {
				t.Fatalf("redelivery = %d %v", status, ans)
			}
			time.Sleep(200 * time.Millisecond)
			if fake.calls() != 1 {
				t.Fatalf("%d AgentCalls after redelivery, want 1", fake.calls())
			}

			// The record is found by GUID.
			status, rec := get(t, base+"/calls/"+guid)
			if status != 200 || rec["id"] != id || rec["state"] != "placed" || rec["duplicates"].(float64) != 1 {
				t.Fatalf("GET /calls = %d %v", status, rec)
			}

			// uContact answers 0 → rejected, not retried.
			status, ans = post(t, base+"/webhooks/generic?wait=10s", fmt.Sprintf(lead, "e2e-2"))
			if status != 200 || ans["status"] != "rejected" {
				t.Fatalf("0 answer = %d %v", status, ans)
			}
			status, rec = get(t, base+"/events/"+ans["event_id"].(string))
			if status != 200 || rec["state"] != "rejected" || rec["attempts"].(float64) != 1 {
				t.Fatalf("GET /events = %d %v", status, rec)
			}

			// Errors: malformed JSON, a missing parameter, an unknown source.
			if status, ans = post(t, base+"/webhooks/generic", `{bad`); status != 400 || ans["error"] == nil {
				t.Fatalf("malformed = %d %v", status, ans)
			}
			status, ans = post(t, base+"/webhooks/generic", `{"destination":"59899123456"}`)
			fields, _ := ans["error"].(map[string]any)["fields"].(map[string]any)
			if status != 422 || fields["agent"] == nil || fields["outqueue"] == nil || fields["destination"] != nil {
				t.Fatalf("missing params = %d %v", status, ans)
			}
			if status, _ = post(t, base+"/webhooks/nope", `{}`); status != 404 {
				t.Fatalf("unknown source = %d", status)
			}
			if fake.calls() != 2 {
				t.Fatalf("%d AgentCalls, want 2", fake.calls())
			}
			if strings.Contains(logs.String(), "dG9rZW4=") {
				t.Fatal("the token appears in the log")
			}
		})
	}
}

func flushDB(t *testing.T, u string) {
	t.Helper()
	c := newRedisClient(t, u)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, nil, &out, &out); err != nil || !strings.HasPrefix(out.String(), "dialhook ") {
		t.Fatalf("version = %q %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"nope"}, func(string) string { return "" }, nil, &out, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestStartupValidationListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte(`
sources:
  crm:
    kind: hubspot
    mapping:
      destination: "properties..phone"
      bogus: x
`), 0o600)
	env := map[string]string{"DIALHOOK_WORKERS": "0", "UCONTACT_TIMEOUT": "soon", "DIALHOOK_CONFIG": cfg}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"DIALHOOK_WORKERS", "UCONTACT_TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	env = map[string]string{"DIALHOOK_CONFIG": cfg}
	err = run(context.Background(), nil, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
	for _, want := range []string{"secret", "sources.crm", "bogus", "destination"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}
