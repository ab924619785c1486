package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/internal/testredis"
)

// crmLoad is a CRM sending webhooks at a steady rate, each retried (like
// a CRM retries) until it is answered 2xx.
type crmLoad struct {
	mu          sync.Mutex
	acked       map[int]string // event number → event id answered
	lastFailure time.Time      // the last non-2xx answer or error
	failures    int
}

func (l *crmLoad) send(t *testing.T, base, body string, i int, giveUp time.Time) {
	for time.Now().Before(giveUp) {
		resp, err := http.Post(base+"/webhooks/generic", "application/json", strings.NewReader(body))
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
				var id string
				if _, after, ok := strings.Cut(string(raw), `"event_id":"`); ok {
					id, _, _ = strings.Cut(after, `"`)
				}
				l.mu.Lock()
				l.acked[i] = id
				l.mu.Unlock()
				return
			}
		}
		l.mu.Lock()
		l.lastFailure, l.failures = time.Now(), l.failures+1
		l.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("event %d was never acknowledged", i)
}

// failoverRun sends rate webhooks a second to dialhook at base for d,
// calls kill after killAt, and checks the promises of durability
// replicated: every acknowledged event is there after the failover and
// ends placed or unknown, no destination is dialed twice, and webhooks are
// answered 2xx again within recoverIn of the kill.
func failoverRun(t *testing.T, base string, dialed func() map[string]int, kill func(), killAt, recoverIn time.Duration) (killed, lastFailure time.Time) {
	const rate, d = 100, 12 * time.Second
	l := &crmLoad{acked: map[int]string{}}
	run := uuid.NewString()[:8]
	start := time.Now()
	var wg sync.WaitGroup
	n := 0
	for tick := time.NewTicker(time.Second / rate); time.Since(start) < d; n++ {
		<-tick.C
		if killed.IsZero() && time.Since(start) >= killAt {
			kill()
			killed = time.Now()
		}
		body := fmt.Sprintf(`{"event_id":"fo-%s-%d","callerid":"59821234567","agent":"fo%d-%s","phone":"1001","context":"agentes","outqueue":"Ventas->","destination":"59899%06d"}`,
			run, n, n, run, n)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l.send(t, base, body, i, time.Now().Add(60*time.Second))
		}(n)
	}
	wg.Wait()
	if l.failures > 0 && l.lastFailure.Sub(killed) > recoverIn {
		t.Errorf("webhooks failed until %s after the kill, want within %s", l.lastFailure.Sub(killed), recoverIn)
	}
	t.Logf("%d events, %d acknowledged, %d failed answers, last %s after the kill", n, len(l.acked), l.failures, l.lastFailure.Sub(killed))
	waitAllFinal(t, base, l.acked)
	for dest, c := range dialed() {
		if c > 1 {
			t.Errorf("%s dialed %d times", dest, c)
		}
	}
	return killed, l.lastFailure
}

// waitAllFinal waits until every acknowledged event is final; one missing
// (404) was lost.
func waitAllFinal(t *testing.T, base string, acked map[int]string) {
	deadline := time.Now().Add(90 * time.Second)
	states := map[string]int{}
	for i, id := range acked {
		for {
			status, rec := get(t, base+"/events/"+id)
			if status == http.StatusNotFound {
				t.Errorf("acknowledged event %d (%s) was lost", i, id)
				break
			}
			if s, _ := rec["state"].(string); s == "placed" || s == "unknown" || s == "failed" {
				states[s]++
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("event %d still %v", i, rec["state"])
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("final states: %v", states)
}

func failoverEnv(url string, fake *fakeUContact) map[string]string {
	return map[string]string{"DIALHOOK_REDIS_URL": url, "DIALHOOK_DURABILITY": "replicated", "DIALHOOK_SHARDS": "8",
		"DIALHOOK_WORKERS": "8", "DIALHOOK_STORE_TIMEOUT": "1s", "DIALHOOK_CLAIM_IDLE": "15s", "UCONTACT_TIMEOUT": "5s",
		"UCONTACT_BASE_URL": fake.srv.URL, "UCONTACT_TOKEN": "dG9rZW4=", "DIALHOOK_LOG_LEVEL": "error"}
}

// countingFake is a uContact that answers a GUID and counts the calls per
// destination.
func countingFake(t *testing.T) (*fakeUContact, func() map[string]int) {
	var mu sync.Mutex
	dialed := map[string]int{}
	fake := newFake(t, func(int) (int, string) { return 200, uuid.NewString() })
	fake.mu.Lock()
	fake.onCall = func(dest string) { mu.Lock(); dialed[dest]++; mu.Unlock() }
	fake.mu.Unlock()
	return fake, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]int, len(dialed))
		for k, v := range dialed {
			out[k] = v
		}
		return out
	}
}

func failoverTests(t *testing.T) {
	if os.Getenv("DIALHOOK_FAILOVER_TESTS") != "1" {
		t.Skip("failover tests run with DIALHOOK_FAILOVER_TESTS=1 (CI sets it): they kill real Redis processes and take about a minute")
	}
}

// A Sentinel group (a master, two replicas, three Sentinels) loses its
// master to kill -9 under load, with durability replicated.
func TestFailoverSentinel(t *testing.T) {
	failoverTests(t)
	g := testredis.StartSentinel(t, 2, time.Second)
	fake, dialed := countingFake(t)
	base, _ := startService(t, failoverEnv(g.URL, fake))
	failoverRun(t, base, dialed, g.Master.Stop, 3*time.Second, 10*time.Second)
}

// A Redis Cluster (3 masters, 2 replicas each) loses one master to kill -9
// under load, with durability replicated.
func TestFailoverCluster(t *testing.T) {
	failoverTests(t)
	const nodeTimeout = 2 * time.Second
	c := testredis.StartCluster(t, 3, 2, nodeTimeout)
	fake, dialed := countingFake(t)
	base, _ := startService(t, failoverEnv(c.URL, fake))
	masters := c.Masters(t)
	promoted := make(chan time.Time, 1)
	kill := func() {
		masters[0].Stop()
		go func() { promoted <- c.WaitMasters(len(masters), 30*time.Second) }()
	}
	_, lastFailure := failoverRun(t, base, dialed, kill, 3*time.Second, nodeTimeout+5*time.Second)
	// The promise: a promoted replica is used within 2 s of its
	// promotion (a failure after that is a client still on the dead master).
	at := <-promoted
	if at.IsZero() {
		t.Fatal("no replica was promoted")
	}
	t.Logf("replica promoted; last failed answer %s after the promotion", lastFailure.Sub(at))
	if lastFailure.Sub(at) > 2*time.Second {
		t.Errorf("webhooks failed until %s after the promotion, want within 2s", lastFailure.Sub(at))
	}
}
