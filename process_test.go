package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/internal/testredis"
)

// procFake is an AgentCall endpoint, slow on purpose, that records the
// GUIDs it answered by destination.
type procFake struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]string // destination → GUIDs answered
}

func newProcFake(t *testing.T, latency time.Duration) *procFake {
	f := &procFake{got: map[string][]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Integra/resources/Agents/AgentCall" {
			http.NotFound(w, r)
			return
		}
		_ = r.ParseForm()
		guid := uuid.NewString()
		f.mu.Lock()
		d := r.PostForm.Get("destination")
		f.got[d] = append(f.got[d], guid)
		f.mu.Unlock()
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, guid)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *procFake) calls() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string][]string, len(f.got))
	for k, v := range f.got {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// dialhookProc is the dialhook binary run as a subprocess.
type dialhookProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(t *testing.T, bin string, env []string, logs io.Writer, base string) (*dialhookProc, error) {
	cmd := exec.Command(bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logs, logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &dialhookProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("dialhook exited at start-up")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dialhook did not start")
		}
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (p *dialhookProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// The binary is killed with SIGKILL under load and started again: every
// event that got a 2xx answer ends in a final state, and none is dialed
// twice.
func TestProcessKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dialhook and runs it as a subprocess")
	}
	t.Parallel()
	redisSrv := testredis.Start(t, "")
	t.Cleanup(redisSrv.Stop)
	bin := filepath.Join(t.TempDir(), "dialhook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fake := newProcFake(t, 40*time.Millisecond)
	addr := freePort(t)
	base := "http://" + addr
	const admin = "admin-secret"
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"DIALHOOK_ADDR=" + addr,
		"DIALHOOK_REDIS_URL=redis://" + redisSrv.Addr + "/0",
		"DIALHOOK_ADMIN_TOKEN=" + admin,
		"DIALHOOK_CLAIM_IDLE=2s",
		"DIALHOOK_WORKERS=8",
		"DIALHOOK_SHUTDOWN_TIMEOUT=2s",
		"UCONTACT_BASE_URL=" + fake.srv.URL,
		"UCONTACT_TOKEN=dG9rZW4=",
		"UCONTACT_TIMEOUT=1s",
	}
	logs := &syncBuffer{}
	proc, err := startProc(t, bin, env, logs, base)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}

	// The CRM: 300 events from 8 senders; a delivery that gets no 2xx is
	// delivered again, as CRMs do.
	const n = 300
	ids := make([]string, n) // event → id answered with a 2xx
	var accepted atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := fmt.Sprintf(`{"event_id":"proc-%d","callerid":"59821234567","agent":"agent-%d","phone":"1001","context":"agentes","outqueue":"Ventas->","destination":"59899%06d"}`, i, i, i)
				for ctx.Err() == nil {
					resp, err := client.Post(base+"/webhooks/generic", "application/json", strings.NewReader(body))
					if err != nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					var a struct {
						EventID string `json:"event_id"`
						Status  string `json:"status"`
					}
					_ = json.NewDecoder(resp.Body).Decode(&a)
					resp.Body.Close()
					if resp.StatusCode/100 == 2 && a.EventID != "" && (a.Status == "queued" || a.Status == "duplicate") {
						ids[i] = a.EventID
						accepted.Add(1)
						break
					}
					if resp.StatusCode/100 == 2 {
						t.Errorf("event %d: answer %d %+v", i, resp.StatusCode, a)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	// SIGKILL once a third is accepted; started again a moment later,
	// while the senders keep delivering.
	restarted := make(chan error, 1)
	go func() {
		for accepted.Load() < n/3 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		proc.kill()
		time.Sleep(300 * time.Millisecond)
		_, err := startProc(t, bin, env, logs, base)
		restarted <- err
	}()
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := <-restarted; err != nil {
		t.Fatalf("restart: %v\n%s", err, logs.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("load did not finish: %d of %d accepted\n%s", accepted.Load(), n, logs.String())
	}

	// Every accepted event ends in a final state.
	states := map[string]int{}
	records := make([]map[string]any, n)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < n; i++ {
		for {
			req, _ := http.NewRequest(http.MethodGet, base+"/events/"+ids[i], nil)
			req.Header.Set("Authorization", "Bearer "+admin)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var rec map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&rec)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /events/%s = %d %v", ids[i], resp.StatusCode, rec)
			}
			if st, _ := rec["state"].(string); st != "queued" && st != "dialing" && st != "scheduled" {
				states[st]++
				records[i] = rec
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %d is still %v", i, rec["state"])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("final states: %v", states)

	// None was dialed twice; a placed one was dialed once, with the GUID
	// uContact answered; an unknown one at most once.
	calls := fake.calls()
	for i := 0; i < n; i++ {
		d := fmt.Sprintf("59899%06d", i) // valid UY mobiles, as in the body above
		got := calls[d]
		switch rec := records[i]; rec["state"] {
		case "placed":
			if len(got) != 1 || rec["call_guid"] != got[0] {
				t.Errorf("event %d placed with GUID %v; AgentCalls answered %v", i, rec["call_guid"], got)
			}
		case "unknown":
			if len(got) > 1 {
				t.Errorf("event %d (unknown) dialed %d times", i, len(got))
			}
		default:
			t.Errorf("event %d ended %v: %v", i, rec["state"], rec["error"])
		}
	}
	if len(calls) > n {
		t.Errorf("%d destinations dialed, want at most %d", len(calls), n)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"dialhook_queue_depth 0", fmt.Sprintf(`dialhook_events{state="placed"} %d`, states["placed"])} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("dialhook logs:\n%s", logs.String())
	}
}
