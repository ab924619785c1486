package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dialhook/internal/samples"
)

const closeAPIKey = "api_0123456789abcdef_s3cret"

// closeLeadCreated is what Close sends for lead.created: contact ids, not phones.
func closeLeadCreated(eventID, leadID string) string {
	return fmt.Sprintf(`{"subscription_id":"whsub_1","event":{"id":%q,"object_type":"lead","object_id":%[2]q,"lead_id":%[2]q,`+
		`"action":"created","user_id":"user_1","data":{"id":%[2]q,"display_name":"Acme","contact_ids":["cont_1"]},"previous_data":{}}}`, eventID, leadID)
}

// closeSigned is the headers Close sends with body, signed now with
// samples.CloseKey.
func closeSigned(body string) []string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return []string{"close-sig-hash", samples.CloseSignature(samples.CloseKey, ts, []byte(body)), "close-sig-timestamp", ts}
}

// A Close lead.created event carries no phone: with an api_key on the
// source, the dispatcher fetches the lead's contacts from Close's API and
// dials the first contact's phone; a refused key rejects the event and
// says what to fix, without showing the key.
func TestCloseLeadFetchesContacts(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(closeAPIKey+":")) {
			http.Error(w, `{"error":"bad key"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/api/v1/lead/lead_gone/" {
			w.WriteHeader(http.StatusUnauthorized) // as a key without access to it would be answered
			return
		}
		fmt.Fprint(w, `{"id":"lead_1","contacts":[{"id":"cont_1","name":"Marta","phones":[{"phone":"+598 99 765 432","type":"mobile"}]}]}`)
	}))
	t.Cleanup(api.Close)
	fake := newFake(t, func(int) (int, string) { return 200, "8cf8570e-60e7-44ed-b799-3baab211b04d" })
	cfg := filepath.Join(t.TempDir(), "dialhook.yaml")
	os.WriteFile(cfg, []byte(`
defaults: {callerid: "59829001234", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
agents: {fallback: {agent: "1000", phone: "1000"}}
sources:
  close:
    kind: close
    secret: `+samples.CloseKey+`
    api_key: ${CLOSE_API_KEY}
    api_base_url: `+api.URL+`
`), 0o600)
	env := map[string]string{"UCONTACT_BASE_URL": fake.srv.URL, "UCONTACT_TOKEN": "dG9rZW4=", "CLOSE_API_KEY": closeAPIKey}
	base, logs := startService(t, env, "--config", cfg)

	body := closeLeadCreated("ev_1", "lead_1")
	status, ans := post(t, base+"/webhooks/close?wait=10s", body, closeSigned(body)...)
	if status != 200 || ans["status"] != "placed" {
		t.Fatalf("lead.created = %d %v", status, ans)
	}
	if fake.calls() != 1 || fake.forms[0].Get("destination") != "59899765432" || fake.forms[0].Get("agent") != "1000" {
		t.Fatalf("AgentCalls %v, want one to the contact's phone", fake.forms)
	}

	body = closeLeadCreated("ev_2", "lead_gone")
	status, ans = post(t, base+"/webhooks/close?wait=10s", body, closeSigned(body)...)
	ev, _ := ans["event"].(map[string]any)
	if status != 200 || ans["status"] != "rejected" || ev["error_kind"] != "enrich_failed" || !strings.Contains(fmt.Sprint(ev["error"]), "api_key") {
		t.Fatalf("refused fetch = %d %v", status, ans)
	}
	if fake.calls() != 1 {
		t.Fatalf("%d AgentCalls, want 1", fake.calls())
	}
	if strings.Contains(logs.String(), closeAPIKey) {
		t.Fatal("the Close API key appears in the log")
	}
}

// TestCloseDocSubscribesOnce: the Close guide's subscription never takes a
// lead event and a contact event together (a lead created with a contact
// sends both, under two event ids: the contact would be called twice), nor
// an update event (every edit would call again).
func TestCloseDocSubscribesOnce(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("docs", "crm", "close.md"))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, b := range fencedBlocks(string(raw)) {
		if b.lang != "sh" || !strings.Contains(b.body, "api.close.com/api/v1/webhook/") {
			continue
		}
		cmds, err := lexShell(b.body)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			var args []string
			for _, w := range c.words[1:] {
				s, _ := w.expand(map[string]string{})
				args = append(args, s)
			}
			req, err := parseCurl(args)
			if err != nil {
				t.Fatalf("close.md:%d: %v", b.line, err)
			}
			var sub struct {
				Events []struct {
					ObjectType string `json:"object_type"`
					Action     string `json:"action"`
				} `json:"events"`
			}
			if err := json.Unmarshal(req.body, &sub); err != nil {
				t.Fatalf("close.md:%d: %v", b.line, err)
			}
			kinds := map[string]bool{}
			for _, e := range sub.Events {
				kinds[e.ObjectType] = true
				if e.Action != "created" {
					t.Errorf("close.md:%d subscribes to %s.%s: every edit would call again", b.line, e.ObjectType, e.Action)
				}
			}
			if kinds["lead"] && kinds["contact"] {
				t.Errorf("close.md:%d subscribes to lead and contact events: a lead created with a contact would call it twice", b.line)
			}
			found++
		}
	}
	if found == 0 {
		t.Fatal("close.md has no subscription command")
	}
}
