package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dialhook/internal/testredis"
)

// receiver is a notify endpoint that checks every message as the Standard
// Webhooks spec says, on its own (no dialhook code): HMAC-SHA256 with the
// base64 key after "whsec_", over "{webhook-id}.{webhook-timestamp}.{body}",
// sent as "v1,<base64>" in a space-separated list.
type receiver struct {
	srv    *httptest.Server
	key    []byte
	failN  atomic.Int32 // answer 500 to this many more requests
	mu     sync.Mutex
	got    []received
	errors []string
}

type received struct {
	id, typ string
	data    map[string]any
}

func newReceiver(t *testing.T, secret string) *receiver {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{key: key}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, r.key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, sig := range strings.Fields(req.Header.Get("webhook-signature")) {
		ok = ok || hmac.Equal([]byte(sig), []byte(want))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.errors = append(r.errors, "bad signature for "+id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.failN.Add(-1) >= 0 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var msg struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		r.errors = append(r.errors, "bad body "+string(body))
	}
	r.got = append(r.got, received{id: id, typ: msg.Type, data: msg.Data})
	w.WriteHeader(http.StatusNoContent)
}

// waitFor waits until the receiver holds a message of type typ.
func (r *receiver) waitFor(t *testing.T, typ string, within time.Duration) received {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, g := range r.got {
			if g.typ == typ {
				r.mu.Unlock()
				return g
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no %s message within %s; got %v, errors %v", typ, within, r.got, r.errors)
	return received{}
}

const notifySecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Webhook → AgentCall (dry run) → placed: a signed event.placed reaches the
// endpoint even though it failed twice first (retried with backoff); then
// uContact's FinishInteraction → completed → a signed call.completed. Every
// attempt is on the event.
func TestNotificationsEndToEnd(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, notifySecret)
			rcv.failN.Store(2)
			cfg := filepath.Join(t.TempDir(), "dialhook.yaml")
			body := fmt.Sprintf(`defaults: {callerid: "59829001234", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
sources:
  generic: {kind: generic}
  ucontact: {kind: ucontact, secret: uc-events-token-0123456789}
notify:
  - name: flow
    url: %s/hook
    secret: %s
`, rcv.srv.URL, notifySecret)
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			if name == "redis" {
				env["DIALHOOK_REDIS_URL"] = testredis.Start(t, "").URL()
			}
			base, _ := startService(t, env, "--config", cfg)
			placed := postJSON(t, base+"/webhooks/generic?wait=5s", `{"event_id": "lead-n1", "agent": "1001", "phone": "1001", "destination": "59899123456"}`)
			guid, _ := placed["call_guid"].(string)
			msg := rcv.waitFor(t, "event.placed", 20*time.Second)
			if msg.data["id"] != placed["event_id"] || !strings.HasPrefix(msg.id, "msg_") {
				t.Errorf("event.placed = %+v", msg)
			}
			postJSON(t, base+"/webhooks/ucontact?token=uc-events-token-0123456789",
				`{"event":"FinishInteraction","date":"2026-11-27 10:15:00","guid":"`+guid+`"}`)
			done := rcv.waitFor(t, "call.completed", 10*time.Second)
			if done.data["state"] != "completed" {
				t.Errorf("call.completed data = %v", done.data)
			}
			_, ev := get(t, base+"/events/"+placed["event_id"].(string))
			attempts, _ := ev["notifications"].([]any)
			outcomes := map[string]int{}
			for _, a := range attempts {
				outcomes[a.(map[string]any)["outcome"].(string)]++
			}
			if outcomes["retry"] != 2 || outcomes["delivered"] != 2 {
				t.Errorf("attempts on the event = %v", attempts)
			}
			if len(rcv.errors) > 0 {
				t.Errorf("receiver: %v", rcv.errors)
			}
		})
	}
}
