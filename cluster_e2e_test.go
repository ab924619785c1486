package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/internal/testredis"
)

// Two dialhook replicas on one Redis Cluster: webhooks to either, each
// delivered twice (once to each replica), are each dialed exactly once,
// and either replica shows every event.
func TestTwoReplicasOnACluster(t *testing.T) {
	url := testredis.ClusterURL(t)
	var mu sync.Mutex
	dialed := map[string]int{}
	fake := newFake(t, func(int) (int, string) { return 200, uuid.NewString() })
	fake.mu.Lock()
	fake.onCall = func(dest string) { mu.Lock(); dialed[dest]++; mu.Unlock() }
	fake.mu.Unlock()
	env := func() map[string]string {
		return map[string]string{"DIALHOOK_REDIS_URL": url, "UCONTACT_BASE_URL": fake.srv.URL, "UCONTACT_TOKEN": "dG9rZW4=",
			"DIALHOOK_WORKERS": "4"}
	}
	a, _ := startService(t, env())
	b, _ := startService(t, env())
	run := uuid.NewString()[:8]
	const n = 30
	ids := make([]string, n)
	for i := range n {
		body := fmt.Sprintf(`{"event_id":"c2-%s-%d","callerid":"59821234567","agent":"a%d-%s","phone":"1001","context":"agentes","outqueue":"Ventas->","destination":"598991%05d"}`,
			run, i, i, run, i)
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		status, ans := post(t, first+"/webhooks/generic", body)
		if status != http.StatusAccepted {
			t.Fatalf("event %d: %d %v", i, status, ans)
		}
		ids[i] = ans["event_id"].(string)
		if status, ans = post(t, second+"/webhooks/generic", body); status != http.StatusOK || ans["status"] != "duplicate" || ans["event_id"] != ids[i] {
			t.Fatalf("event %d on the other replica: %d %v", i, status, ans)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, id := range ids {
		for {
			base := []string{a, b}[i%2]
			_, rec := get(t, base+"/events/"+id)
			if rec["state"] == "placed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %d is %v", i, rec["state"])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if d := fmt.Sprintf("598991%05d", i); dialed[d] != 1 {
			t.Errorf("event %d dialed %d times", i, dialed[d])
		}
	}
	if len(dialed) != n || strings.Contains(fmt.Sprint(dialed), ":2") {
		t.Errorf("calls: %v", dialed)
	}
}
