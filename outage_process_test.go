package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dialhook/internal/testredis"
)

// logLine is what the outage test reads of one JSON log line.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

func logLines(t *testing.T, raw string) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg != "" {
			out = append(out, l)
		}
	}
	return out
}

// A paused Redis (SIGSTOP: connections stay open, nothing answers) while
// the binary serves webhooks: they answer 503 meanwhile, and the log tells
// the outage once when it starts (ERROR) and once when the store is back,
// whichever of the webhook path, the workers, the housekeeping or the
// notifier saw it first — no WARN per promote or reclaim tick.
func TestProcessRedisPausedLogsOneOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dialhook and runs it as a subprocess")
	}
	t.Parallel()
	redisSrv := testredis.Start(t, "")
	bin := filepath.Join(t.TempDir(), "dialhook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freePort(t)
	base := "http://" + addr
	env := []string{"PATH=" + os.Getenv("PATH"), "DIALHOOK_ADDR=" + addr, "DIALHOOK_REDIS_URL=" + redisSrv.URL(),
		"DIALHOOK_STORE_TIMEOUT=500ms", "DIALHOOK_CLAIM_IDLE=2s", "UCONTACT_TIMEOUT=1s", "DIALHOOK_SHUTDOWN_TIMEOUT=1s", "DIALHOOK_LOG_FORMAT=json"}
	logs := &syncBuffer{}
	if _, err := startProc(t, bin, env, logs, base); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(i int) int {
		body := fmt.Sprintf(`{"event_id":"pause-%d","callerid":"59821234567","agent":"agent-%d","phone":"1001","context":"agentes","outqueue":"Ventas->","destination":"59899%06d"}`, i, i, i)
		resp, err := client.Post(base+"/webhooks/generic", "application/json", strings.NewReader(body))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(0); code != http.StatusAccepted {
		t.Fatalf("webhook before the pause: %d\n%s", code, logs.String())
	}

	// 6 s paused (longer than the 4 s between the promote WARNs the audit
	// saw), a webhook every second meanwhile.
	redisSrv.Pause()
	paused := time.Now()
	for i := 1; time.Since(paused) < 6*time.Second; i++ {
		if code := post(i); code != http.StatusServiceUnavailable {
			t.Errorf("webhook %d while Redis is paused: %d, want 503", i, code)
		}
		time.Sleep(time.Second - time.Since(paused)%time.Second)
	}
	redisSrv.Resume()

	// Back: a webhook is accepted again, and the log says so.
	deadline := time.Now().Add(10 * time.Second)
	for i := 100; post(i) != http.StatusAccepted; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("webhooks still refused 10 s after Redis resumed\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for !strings.Contains(logs.String(), `"store is back"`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a late failure would tell a second outage

	count := map[string]int{}
	for _, l := range logLines(t, logs.String()) {
		count[l.Msg]++
		if l.Msg == "store unavailable: callers pause and retry with backoff" && l.Level != "error" {
			t.Errorf("outage start logged at %s, want error", l.Level)
		}
	}
	for msg, want := range map[string]int{"store unavailable: callers pause and retry with backoff": 1, "store is back": 1,
		"store still unavailable": 0, "promote due events": 0, "reclaim": 0, "not ready": 0} {
		if count[msg] != want {
			t.Errorf("%d lines %q, want %d", count[msg], msg, want)
		}
	}
	if t.Failed() {
		t.Logf("dialhook logs:\n%s", logs.String())
	}
}
