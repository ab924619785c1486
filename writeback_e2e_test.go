package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/internal/samples"
	"dialhook/internal/testredis"
)

// fakeHubSpot records the calls API requests dialhook makes.
type fakeHubSpot struct {
	mu   sync.Mutex
	reqs []hubspotReq
	srv  *httptest.Server
}

type hubspotReq struct {
	method, path, auth string
	body               map[string]any
}

func newFakeHubSpot(t *testing.T) *fakeHubSpot {
	f := &fakeHubSpot{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		f.reqs = append(f.reqs, hubspotReq{r.Method, r.URL.Path, r.Header.Get("Authorization"), body})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		io.WriteString(w, `{"id":"987654","properties":{}}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHubSpot) requests() []hubspotReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hubspotReq(nil), f.reqs...)
}

// Issue 14's end to end, on real Redis: a signed HubSpot webhook →
// AgentCall (the fake uContact answers a GUID) → uContact's
// FinishInteraction with that GUID → the event is completed, one
// call.completed notification verified, and one HubSpot call engagement
// created (when placed) and then updated (completed).
func TestCallOutcomeLoopEndToEnd(t *testing.T) {
	guid := uuid.NewString()
	uc := newFake(t, func(int) (int, string) { return http.StatusOK, guid })
	hs := newFakeHubSpot(t)
	rcv := newReceiver(t, notifySecret)
	cfg := filepath.Join(t.TempDir(), "dialhook.yaml")
	conf := fmt.Sprintf(`defaults: {callerid: "59829001234", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
agents: {fallback: {agent: "1000", phone: "1000"}}
sources:
  hubspot:
    kind: hubspot
    secret: %s
    writeback: {token: pat-na1-test-token, base_url: %s}
  ucontact: {kind: ucontact, secret: uc-events-token-0123456789}
notify:
  - {name: flow, url: %s/hook, secret: %s, types: [call.completed]}
`, samples.HubSpotSecret, hs.srv.URL, rcv.srv.URL, notifySecret)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs := startService(t, map[string]string{"DIALHOOK_REDIS_URL": testredis.Start(t, "").URL(),
		"UCONTACT_BASE_URL": uc.srv.URL, "UCONTACT_TOKEN": "dG9rZW4="}, "--config", cfg)

	body := string(samples.Body(samples.HubSpotWorkflowContact))
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	status, ans := post(t, base+"/webhooks/hubspot?wait=5s", body, "X-HubSpot-Request-Timestamp", ts,
		"X-HubSpot-Signature-v3", samples.HubSpotV3(samples.HubSpotSecret, http.MethodPost, base+"/webhooks/hubspot", []byte(body), ts))
	if status != http.StatusOK || ans["status"] != "placed" || ans["call_guid"] != guid {
		t.Fatalf("hubspot webhook = %d %v", status, ans)
	}
	id := ans["event_id"].(string)
	waitUntil(t, "the call engagement is created", func() bool { return len(hs.requests()) >= 1 })
	postJSON(t, base+"/webhooks/ucontact?token=uc-events-token-0123456789",
		`{"event":"FinishInteraction","date":"2023-48-13 06:48:51","guid":"`+guid+`","campaign":"Ventas->","agent":"1000"}`)
	msg := rcv.waitFor(t, "call.completed", 10*time.Second)
	if msg.data["id"] != id || msg.data["state"] != "completed" {
		t.Errorf("call.completed = %+v", msg)
	}
	waitUntil(t, "the call engagement is updated", func() bool { return len(hs.requests()) >= 2 })
	reqs := hs.requests()
	create, update := reqs[0], reqs[1]
	props, _ := create.body["properties"].(map[string]any)
	if create.method != http.MethodPost || create.path != "/crm/v3/objects/calls" || create.auth != "Bearer pat-na1-test-token" ||
		props["hs_call_status"] != "CONNECTING" || props["hs_call_direction"] != "OUTBOUND" || create.body["associations"] == nil {
		t.Errorf("create = %+v", create)
	}
	uprops, _ := update.body["properties"].(map[string]any)
	if update.method != http.MethodPatch || update.path != "/crm/v3/objects/calls/987654" || uprops["hs_call_status"] != "COMPLETED" {
		t.Errorf("update = %+v", update)
	}
	if len(reqs) != 2 {
		t.Errorf("%d HubSpot requests, want 2", len(reqs))
	}
	_, ev := get(t, base+"/events/"+id)
	if ev["state"] != "completed" || ev["notifications"] == nil {
		t.Errorf("event = %v", ev)
	}
	if strings.Contains(logs.String(), "pat-na1-test-token") {
		t.Error("the HubSpot token is in the log")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out: %s", what)
}
