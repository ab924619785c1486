package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"dialhook/internal/testredis"
)

// docs/after-the-call.md, step 3, followed with the real GUID: the
// documented config, the README's first curl, then uContact's
// FinishInteraction for that call → completed; on real Redis too.
func TestAfterTheCallAsDocumented(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			if name == "redis" {
				env["DIALHOOK_REDIS_URL"] = testredis.Start(t, "").URL()
			}
			env["UC_EVENTS_TOKEN"] = "uc-events-token-0123456789"
			base, _ := startService(t, env, "--config", "examples/ucontact-events.yaml")
			placed := postJSON(t, base+"/webhooks/generic?wait=5s",
				`{"event_id": "lead-1", "agent": "1001", "phone": "1001", "destination": "59899123456"}`)
			guid, _ := placed["call_guid"].(string)
			if placed["status"] != "placed" || guid == "" {
				t.Fatalf("README's first curl = %v", placed)
			}
			got := postJSON(t, base+"/webhooks/ucontact?token=uc-events-token-0123456789",
				`{"event":"FinishInteraction","date":"2026-11-27 10:15:00","guid":"`+guid+`","campaign":"Ventas->","agent":"1001"}`)
			if got["status"] != "completed" || got["state"] != "completed" || got["event_id"] != placed["event_id"] {
				t.Fatalf("FinishInteraction = %v", got)
			}
			status, ev := get(t, base+"/events/"+got["event_id"].(string))
			call, _ := ev["call"].(map[string]any)
			if status != http.StatusOK || ev["state"] != "completed" || call["ended_by"] != "FinishInteraction" {
				t.Errorf("GET /events/{id} = %d %v", status, ev)
			}
		})
	}
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, raw)
	}
	return out
}
