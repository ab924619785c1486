// Command bench is dialhook's load harness. In one run it builds dialhook,
// starts it on a real Redis with an in-process fake uContact AgentCall
// server, starts a bare Echo server (reads the body, answers 202) beside it,
// drives both with the same keep-alive load generator and unique events,
// and prints one table (and JSON with --out): ingest, latency at fixed
// rates, end to end placed calls/s, a duplicate storm, Redis commands per
// event and per call, peak RSS and goroutines.
//
//	go run ./bench [--source generic] [--duration 20s] [--out bench.json]
//
// It is not a test: `go test ./...` does not run it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

type options struct {
	redisURL       string
	source         string
	duration       time.Duration
	ingestDuration time.Duration
	ingestWorkers  []int
	rates          []int
	fakeLatency    time.Duration
	slowLatency    time.Duration
	concurrency    int
	workers        int
	storm          int
	redisEvents    int
	out            string
	keep           bool
}

func parseFlags() (*options, error) {
	o := &options{}
	var workers, rates string
	flag.StringVar(&o.redisURL, "redis-url", "redis://127.0.0.1:6379/15", "Redis for dialhook; its database is FLUSHed first")
	flag.StringVar(&o.source, "source", "generic", "sender to simulate, with its sample body from crm/testdata: "+profileNames())
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each fixed-rate latency run")
	flag.DurationVar(&o.ingestDuration, "ingest-duration", 3*time.Second, "length of each closed-loop ingest run")
	flag.StringVar(&workers, "ingest-workers", "32,128", "closed-loop concurrencies tried for ingest (the best counts)")
	flag.StringVar(&rates, "rates", "500,2000", "fixed rates (req/s) for the latency runs; peak RSS is taken at the highest")
	flag.DurationVar(&o.fakeLatency, "latency", 0, "fake AgentCall latency outside the end-to-end runs")
	flag.DurationVar(&o.slowLatency, "slow-latency", 200*time.Millisecond, "fake AgentCall latency of the slow end-to-end run")
	flag.IntVar(&o.concurrency, "concurrency", 16, "DIALHOOK_UCONTACT_CONCURRENCY")
	flag.IntVar(&o.workers, "workers", 8, "DIALHOOK_WORKERS")
	flag.IntVar(&o.storm, "storm", 1000, "concurrent deliveries of one event in the duplicate storm")
	flag.IntVar(&o.redisEvents, "redis-events", 2000, "events per Redis command-count window")
	flag.StringVar(&o.out, "out", "", "also write the figures as JSON to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, config, logs)")
	flag.Parse()
	var err error
	if o.ingestWorkers, err = ints(workers); err != nil {
		return nil, fmt.Errorf("--ingest-workers: %w", err)
	}
	if o.rates, err = ints(rates); err != nil {
		return nil, fmt.Errorf("--rates: %w", err)
	}
	if o.concurrency < 1 || o.workers < 1 || o.storm < 2 || o.redisEvents < 100 {
		return nil, errors.New("--concurrency and --workers must be ≥ 1, --storm ≥ 2, --redis-events ≥ 100")
	}
	return o, nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a list of positive numbers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	if addr := os.Getenv(echoEnv); addr != "" {
		echoMain(addr)
		return
	}
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// h is the harness's state for one run.
type h struct {
	o       *options
	src     *source
	fake    *fakeUContact
	rdb     *redis.Client
	ropt    *redis.Options
	dh, ech *proc
	dhT     *target
	echoT   *target
	scrapeC *http.Client
	admin   string
	rep     *report
	logf    func(format string, args ...any)
}

func run(o *options) error {
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	unlock, err := lockRun()
	if err != nil {
		return err
	}
	defer unlock()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "dialhook-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("temporary directory: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	logf("building dialhook")
	bin := filepath.Join(tmp, "dialhook")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}

	ropt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return fmt.Errorf("--redis-url: %w", err)
	}
	ropt.ClientName, ropt.PoolSize, ropt.MinIdleConns = "dialhook-bench", 1, 1
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", o.redisURL, err)
	}
	info, _ := rdb.Info(ctx, "server").Result()

	sec := newSecrets()
	src, err := newSource(root, o.source, sec)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(tmp, "dialhook.yaml")
	if err := os.WriteFile(cfgPath, []byte(src.configYAML()), 0o600); err != nil {
		return err
	}

	fake, err := startFake()
	if err != nil {
		return err
	}
	defer fake.stop()
	fake.setLatency(o.fakeLatency)

	x := &h{o: o, src: src, fake: fake, rdb: rdb, ropt: ropt, logf: logf,
		scrapeC: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		admin:   "bench-" + sec.nonce,
		rep:     newReport(o, info),
	}

	// The bare Echo server: this program again, in a process of its own.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	echoAddr, err := freeAddr()
	if err != nil {
		return err
	}
	echoLog, err := os.Create(filepath.Join(tmp, "echo.log"))
	if err != nil {
		return err
	}
	defer echoLog.Close()
	x.ech, err = startProc("echo", self, nil, append(cleanEnv(), echoEnv+"="+echoAddr), echoLog, echoAddr)
	if err != nil {
		return err
	}
	defer x.ech.stop(3 * time.Second)

	// dialhook, the real run() path, logging JSON to a file.
	dhAddr, err := freeAddr()
	if err != nil {
		return err
	}
	dhLogPath := filepath.Join(tmp, "dialhook.log")
	dhLog, err := os.Create(dhLogPath)
	if err != nil {
		return err
	}
	defer dhLog.Close()
	env := append(cleanEnv(),
		"DIALHOOK_ADDR="+dhAddr,
		"DIALHOOK_REDIS_URL="+o.redisURL,
		"DIALHOOK_ADMIN_TOKEN="+x.admin,
		"DIALHOOK_LOG_FORMAT=json",
		"DIALHOOK_WORKERS="+strconv.Itoa(o.workers),
		"DIALHOOK_UCONTACT_CONCURRENCY="+strconv.Itoa(o.concurrency),
		"UCONTACT_BASE_URL=http://"+fake.addr,
		"UCONTACT_TOKEN=bench-token-"+sec.nonce,
	)
	x.dh, err = startProc("dialhook", bin, []string{"--config", cfgPath}, env, dhLog, dhAddr)
	if err != nil {
		return err
	}
	defer x.dh.stop(10 * time.Second)

	// Ctrl-C: stop the servers before leaving.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		x.dh.stop(3 * time.Second)
		x.ech.stop(time.Second)
		os.Exit(130)
	}()

	if err := x.dh.waitHTTP("http://"+dhAddr+"/readyz", 15*time.Second); err != nil {
		return fmt.Errorf("%w (log: %s)", err, tail(dhLogPath))
	}
	if err := x.ech.waitHTTP("http://"+echoAddr+"/healthz", 10*time.Second); err != nil {
		return err
	}
	x.dhT, x.echoT = newTarget("dialhook", dhAddr), newTarget("echo", echoAddr)
	logf("dialhook pid %d on %s, bare Echo pid %d on %s, fake AgentCall on %s, source %s", x.dh.pid(), dhAddr, x.ech.pid(), echoAddr, fake.addr, o.source)

	steps := []struct {
		name string
		fn   func() error
	}{
		{"check", x.check},
		{"goroutines before", x.goroutinesBefore},
		{"warm-up", x.warmup},
		{"ingest", x.ingest},
		{"latency", x.latency},
		{"duplicate storm", x.storm},
		{"redis commands", x.redisCommands},
		{"end to end (slow uContact)", x.slowEndToEnd},
		{"goroutines after", x.goroutinesAfter},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w (dialhook log: %s)", s.name, err, dhLogPath)
		}
	}
	x.dh.stop(10 * time.Second)
	x.rep.WallSeconds = round(time.Since(began).Seconds(), 1)
	x.rep.verdicts()
	x.rep.print(os.Stdout)
	if o.out != "" {
		b, err := json.MarshalIndent(x.rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the harness from inside the dialhook module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

func (x *h) scrape() (metrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return scrape(ctx, x.scrapeC, x.dhT.base)
}

// finalStates are the states an event ends in after a dial.
var finalStates = []string{`state="placed"`, `state="rejected"`, `state="failed"`, `state="unknown"`}

func finals(m metrics) float64 {
	var t float64
	for _, s := range finalStates {
		t += m.sum("dialhook_events", s)
	}
	return t
}

// waitFinal polls until at least want events are in a final state (and
// nothing is queued or dialing), and returns when that was first seen.
func (x *h) waitFinal(want float64, timeout time.Duration) (time.Time, metrics, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := x.scrape()
		now := time.Now()
		if err == nil && finals(m) >= want && m.sum("dialhook_events", `state="queued"`) == 0 && m.sum("dialhook_events", `state="dialing"`) == 0 {
			return now, m, nil
		}
		if now.After(deadline) {
			if err == nil {
				err = fmt.Errorf("%.0f of %.0f events final, %.0f queued, %.0f dialing after %s", finals(m), want,
					m.sum("dialhook_events", `state="queued"`), m.sum("dialhook_events", `state="dialing"`), timeout)
			}
			return now, m, err
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// drained waits until everything accepted so far is final.
func (x *h) drained(timeout time.Duration) (metrics, error) {
	m, err := x.scrape()
	if err != nil {
		return nil, err
	}
	_, m, err = x.waitFinal(m.sum("dialhook_webhooks_total", `outcome="queued"`), timeout)
	return m, err
}

// check sends one event to each server and expects the kind's answer.
func (x *h) check() error {
	for _, t := range []*target{x.dhT, x.echoT} {
		code, _ := do(t, x.src, ids.Add(1))
		want := x.src.p.wantStatus
		if t == x.echoT {
			want = http.StatusAccepted
		}
		if code != want {
			return fmt.Errorf("%s answered %d to a new %s event, want %d", t.name, code, x.src.name, want)
		}
	}
	m, err := x.drained(10 * time.Second)
	if err != nil {
		return err
	}
	if m.sum("dialhook_events", `state="placed"`) != 1 {
		return fmt.Errorf("the check event was not placed: %v", m.sum("dialhook_events", `state="placed"`))
	}
	return nil
}

// settleConns closes every idle keep-alive connection to dialhook (ours to
// it, its own to the fake) so that their goroutines end.
func (x *h) settleConns() {
	x.dhT.tr.CloseIdleConnections()
	x.fake.dropIdle()
	time.Sleep(1500 * time.Millisecond)
}

// goroutines is dialhook's go_goroutines, the least of five scrapes: a
// scrape itself runs goroutines (its connection, the collectors that
// Prometheus gathers concurrently), which one reading may catch.
func (x *h) goroutines() (float64, error) {
	least := math.Inf(1)
	for range 5 {
		m, err := x.scrape()
		if err != nil {
			return 0, err
		}
		least = math.Min(least, m.sum("go_goroutines"))
		time.Sleep(100 * time.Millisecond)
	}
	return least, nil
}

func (x *h) goroutinesBefore() error {
	x.settleConns()
	g, err := x.goroutines()
	x.rep.Memory.GoroutinesBefore = int(g)
	return err
}

func (x *h) goroutinesAfter() error {
	if _, err := x.drained(30 * time.Second); err != nil {
		return err
	}
	x.settleConns()
	g, err := x.goroutines()
	x.rep.Memory.GoroutinesAfter = int(g)
	x.logf("goroutines before %d, after %d", x.rep.Memory.GoroutinesBefore, x.rep.Memory.GoroutinesAfter)
	return err
}

func (x *h) warmup() error {
	x.logf("warm-up: 1s each")
	closedLoop(x.echoT, x.src, 16, time.Second)
	closedLoop(x.dhT, x.src, 16, time.Second)
	_, err := x.drained(60 * time.Second)
	return err
}

// ingest: closed loop at each concurrency, the bare server first, then
// dialhook until everything it accepted is placed (that burst is also the
// end-to-end figure with the 0 ms fake).
func (x *h) ingest() error {
	ctx := context.Background()
	for _, w := range x.o.ingestWorkers {
		ours := func() time.Duration {
			return procCPU(x.dh.pid()) + procCPU(x.ech.pid()) + redisCPU(ctx, x.rdb) + selfCPU()
		}
		other := func(busy, our time.Duration, secs float64) float64 {
			return round(max(busy-our, 0).Seconds()/secs, 2)
		}
		ec0, hc0, o0, b0, t0 := procCPU(x.ech.pid()), selfCPU(), ours(), systemBusy(), time.Now()
		e := closedLoop(x.echoT, x.src, w, x.o.ingestDuration)
		ec1, hc1, o1, b1, secsE := procCPU(x.ech.pid()), selfCPU(), ours(), systemBusy(), time.Since(t0).Seconds()
		m0, err := x.scrape()
		if err != nil {
			return err
		}
		f0 := finals(m0)
		dc0, rc0, hc2, o2, b2 := procCPU(x.dh.pid()), redisCPU(ctx, x.rdb), selfCPU(), ours(), systemBusy()
		start := time.Now()
		d := closedLoop(x.dhT, x.src, w, x.o.ingestDuration)
		dc1, rc1, hc3, o3, b3, secsD := procCPU(x.dh.pid()), redisCPU(ctx, x.rdb), selfCPU(), ours(), systemBusy(), time.Since(start).Seconds()
		end, m1, err := x.waitFinal(f0+float64(d.ok), 120*time.Second)
		if err != nil {
			return err
		}
		per := func(c time.Duration, n int64) float64 {
			if n == 0 {
				return 0
			}
			return round(float64(c.Microseconds())/float64(n), 1)
		}
		placed := m1.sum("dialhook_events", `state="placed"`) - m0.sum("dialhook_events", `state="placed"`)
		lv := ingestLevel{Workers: w, Dialhook: round(d.rate(), 0), Echo: round(e.rate(), 0),
			DialhookFailed: d.failed, EchoFailed: e.failed,
			DialhookP99: round(d.pct(99), 2), EchoP99: round(e.pct(99), 2),
			Accepted: d.ok, Placed: int64(placed), EndToEndSeconds: round(end.Sub(start).Seconds(), 2),
			EndToEnd: round(placed/end.Sub(start).Seconds(), 0),
			CPU: cpuPerRequest{Dialhook: per(dc1-dc0, d.ok), Redis: per(rc1-rc0, d.ok), HarnessDialhook: per(hc3-hc2, d.ok),
				Echo: per(ec1-ec0, e.ok), HarnessEcho: per(hc1-hc0, e.ok),
				DialhookCores: round((dc1-dc0).Seconds()/d.elapsed.Seconds(), 2), RedisCores: round((rc1-rc0).Seconds()/d.elapsed.Seconds(), 2)},
			OtherCoresEcho: other(b1-b0, o1-o0, secsE), OtherCoresDialhook: other(b3-b2, o3-o2, secsD)}
		x.rep.Ingest.Levels = append(x.rep.Ingest.Levels, lv)
		x.logf("ingest %d workers: dialhook %.0f/s (%d failed, statuses %v), echo %.0f/s; %d placed in %.2fs = %.0f placed/s end to end; CPU µs per request: dialhook %.0f + Redis %.0f + harness %.0f, echo %.0f + harness %.0f; CPUs busy outside the benchmark: %.2f (echo run), %.2f (dialhook run)",
			w, lv.Dialhook, d.failed, d.statuses, lv.Echo, lv.Placed, lv.EndToEndSeconds, lv.EndToEnd,
			lv.CPU.Dialhook, lv.CPU.Redis, lv.CPU.HarnessDialhook, lv.CPU.Echo, lv.CPU.HarnessEcho, lv.OtherCoresEcho, lv.OtherCoresDialhook)
		if lv.Dialhook > x.rep.Ingest.Dialhook {
			x.rep.Ingest.Dialhook, x.rep.Ingest.DialhookWorkers, x.rep.Ingest.CPU = lv.Dialhook, w, lv.CPU
		}
		if lv.Echo > x.rep.Ingest.Echo {
			x.rep.Ingest.Echo, x.rep.Ingest.EchoWorkers = lv.Echo, w
		}
		if lv.EndToEnd > x.rep.EndToEnd.Fast.PlacedPerSec {
			x.rep.EndToEnd.Fast = e2eRun{FakeLatencyMs: 0, Events: lv.Placed, Seconds: lv.EndToEndSeconds, PlacedPerSec: lv.EndToEnd,
				Note: fmt.Sprintf("closed loop, %d workers, %s burst, until every GUID is recorded", w, x.o.ingestDuration)}
		}
	}
	if x.rep.Ingest.Echo > 0 {
		x.rep.Ingest.Ratio = round(x.rep.Ingest.Dialhook/x.rep.Ingest.Echo, 2)
	}
	return nil
}

// latency: open loop at each fixed rate, the bare server first; at the
// highest rate dialhook's peak RSS is taken (VmHWM reset at the start, and
// VmRSS sampled), until everything is placed.
func (x *h) latency() error {
	top := 0
	for _, r := range x.o.rates {
		top = max(top, r)
	}
	for _, rate := range x.o.rates {
		for _, t := range []*target{x.echoT, x.dhT} {
			var rs *rssSampler
			peakOK := false
			if t == x.dhT && rate == top {
				peakOK = resetPeakRSS(x.dh.pid()) == nil
				rs = sampleRSS(x.dh.pid(), 50*time.Millisecond)
			}
			ours0 := procCPU(x.dh.pid()) + procCPU(x.ech.pid()) + redisCPU(context.Background(), x.rdb) + selfCPU()
			busy0, t0 := systemBusy(), time.Now()
			res := openLoop(t, x.src, rate, x.o.duration)
			ours1 := procCPU(x.dh.pid()) + procCPU(x.ech.pid()) + redisCPU(context.Background(), x.rdb) + selfCPU()
			busy1, secs := systemBusy(), time.Since(t0).Seconds()
			run := latencyRun{Target: t.name, Rate: rate, Seconds: x.o.duration.Seconds(), Sent: res.sent, OK: res.ok, Failed: res.failed,
				Achieved: round(float64(res.ok)/res.elapsed.Seconds(), 0),
				P50:      round(res.pct(50), 2), P99: round(res.pct(99), 2), P999: round(res.pct(99.9), 2), Max: round(res.pct(100), 2),
				MachineCores: round((busy1-busy0).Seconds()/secs, 2), OtherCores: round(max((busy1-busy0)-(ours1-ours0), 0).Seconds()/secs, 2)}
			if t == x.dhT {
				if _, err := x.drained(120 * time.Second); err != nil {
					return err
				}
			}
			if rs != nil {
				sampled := rs.end()
				x.rep.Memory.PeakRSSSampledMiB = round(float64(sampled)/(1<<20), 1)
				if hwm, err := procStatus(x.dh.pid(), "VmHWM"); err == nil && peakOK {
					x.rep.Memory.PeakRSSMiB = round(float64(hwm)/(1<<20), 1)
					x.rep.Memory.Source = "VmHWM (reset at the start of the run)"
				} else {
					x.rep.Memory.PeakRSSMiB = x.rep.Memory.PeakRSSSampledMiB
					x.rep.Memory.Source = "VmRSS sampled every 50ms"
				}
				x.rep.Memory.AtRate = rate
			}
			x.rep.Latency = append(x.rep.Latency, run)
			x.logf("latency %s @%d/s: p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms, %d ok, %d failed %v; machine busy %.2f cores, %.2f of them outside the benchmark",
				t.name, rate, run.P50, run.P99, run.P999, run.Max, res.ok, res.failed, res.statuses, run.MachineCores, run.OtherCores)
		}
	}
	return nil
}

// storm: many concurrent deliveries of one event.
func (x *h) storm() error {
	n := ids.Add(1)
	tr := &http.Transport{MaxIdleConnsPerHost: x.o.storm + 16, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	m0, err := x.scrape()
	if err != nil {
		return err
	}
	calls0 := x.fake.calls.Load()
	reqs := make([]*http.Request, x.o.storm)
	for i := range reqs {
		if reqs[i], err = x.src.request(x.dhT.base, x.dhT.host, n); err != nil {
			return err
		}
	}
	type answer struct {
		code   int
		status string
		id     string
	}
	answers := make([]answer, len(reqs))
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range reqs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-gate
			resp, err := hc.Do(reqs[i])
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var a struct {
				Status  string `json:"status"`
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal(b, &a)
			answers[i] = answer{resp.StatusCode, a.Status, a.EventID}
		}(i)
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(start)
	m1, err := x.drained(30 * time.Second)
	if err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	st := stormResult{Deliveries: len(reqs), Seconds: round(elapsed.Seconds(), 2), Statuses: map[string]int{}, SOAP: x.src.p.soap}
	var id string
	for _, a := range answers {
		st.Statuses[strconv.Itoa(a.code)+" "+a.status]++
		switch {
		case x.src.p.soap && a.code == http.StatusOK:
			st.Acked++ // a SOAP Ack: new and duplicate look alike
		case a.code == x.src.p.wantStatus && a.status != "duplicate":
			st.New++
			id = a.id
		case a.code == http.StatusOK && a.status == "duplicate":
			st.Duplicates++
		default:
			st.Other++
		}
	}
	st.CallsPlaced = int(x.fake.calls.Load() - calls0)
	st.DialsCounted = int(m1.sum("dialhook_dials_total") - m0.sum("dialhook_dials_total"))
	if id != "" {
		if e, err := x.event(id); err == nil {
			st.EventAttempts, st.EventDuplicates, st.EventState = e.Attempts, e.Duplicates, e.State
		}
	}
	x.rep.Storm = st
	x.logf("duplicate storm: %d deliveries in %.2fs → %d new, %d duplicate, %d other; %d call(s) placed; answers %v",
		st.Deliveries, st.Seconds, st.New, st.Duplicates, st.Other, st.CallsPlaced, st.Statuses)
	return nil
}

type eventView struct {
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	Duplicates int    `json:"duplicates"`
}

func (x *h) event(id string) (*eventView, error) {
	req, err := http.NewRequest(http.MethodGet, x.dhT.base+"/events/"+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+x.admin)
	resp, err := x.scrapeC.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /events/%s: HTTP %d", id, resp.StatusCode)
	}
	var e eventView
	return &e, json.NewDecoder(resp.Body).Decode(&e)
}

// redisCommands counts the Redis commands of the accept path and of a
// placed call, from INFO commandstats (every command, those run inside Lua
// scripts included) and MONITOR (which tells the ones dialhook sent from the
// ones its scripts ran). The accept window runs while every worker is held
// in a call to the gated fake, so that it holds accepts only; the second
// window holds whole events (accept + dial); the difference is the call.
// The background (promotion ticks, idle queue reads) is measured while idle
// and subtracted.
func (x *h) redisCommands() error {
	ctx := context.Background()
	if _, err := x.drained(30 * time.Second); err != nil {
		return err
	}
	mon, err := startMonitor(x.ropt, clientAddrs(ctx, x.rdb, x.ropt.ClientName))
	if err != nil {
		x.logf("MONITOR unavailable (%v): top-level counts are not separated", err)
	}
	if mon != nil {
		defer mon.stop()
	}
	take := func() (cmdCounts, cmdCounts) {
		if mon == nil {
			return cmdCounts{}, cmdCounts{}
		}
		time.Sleep(100 * time.Millisecond) // let MONITOR catch up
		return mon.take()
	}
	// Commands of the harness itself, and connection set-up.
	ignore := func(c cmdCounts) cmdCounts {
		out := cmdCounts{}
		for k, v := range c {
			if k == "info" || k == "zcard" || connSetup[k] {
				continue
			}
			out[k] = v
		}
		return out
	}
	stats := func() (cmdCounts, error) { return commandStats(ctx, x.rdb) }

	// Hold every worker in a call.
	x.fake.close()
	blockers := x.o.workers
	count(x.dhT, x.src, 4, blockers)
	deadline := time.Now().Add(10 * time.Second)
	for x.fake.inflight.Load() < int64(min(x.o.workers, x.o.concurrency)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)

	// Background while idle.
	take()
	c0, err := stats()
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(2 * time.Second)
	c1, err := stats()
	if err != nil {
		return err
	}
	bgTop, bgLua := take()
	bgSecs := time.Since(t0).Seconds()
	bg := ignore(c1.minus(c0, 1)).div(bgSecs)
	bgTop, bgLua = bgTop.div(bgSecs), bgLua.div(bgSecs)

	// Window A: accepts only.
	n := float64(x.o.redisEvents)
	take()
	a0, err := stats()
	if err != nil {
		return err
	}
	tA := time.Now()
	ra := count(x.dhT, x.src, 16, x.o.redisEvents)
	topA, luaA := take()
	a1, err := stats()
	if err != nil {
		return err
	}
	secsA := time.Since(tA).Seconds()
	if ra.ok != int64(x.o.redisEvents) {
		return fmt.Errorf("accept window: %d of %d accepted (%v)", ra.ok, x.o.redisEvents, ra.statuses)
	}
	accTotal := ignore(a1.minus(a0, 1)).minus(bg, secsA).div(n)
	accTop := ignore(topA).minus(bgTop, secsA).div(n)
	accLua := luaA.minus(bgLua, secsA).div(n)

	// Let the calls go, and wait until everything is placed.
	x.fake.open()
	if _, err := x.drained(60 * time.Second); err != nil {
		return err
	}
	placedKey := "dialhook:{dh}:st:placed"
	p0, err := x.rdb.ZCard(ctx, placedKey).Result()
	if err != nil {
		return err
	}

	// Window B: whole events, until every GUID is recorded.
	take()
	b0, err := stats()
	if err != nil {
		return err
	}
	tB := time.Now()
	rb := count(x.dhT, x.src, 16, x.o.redisEvents)
	if rb.ok != int64(x.o.redisEvents) {
		return fmt.Errorf("call window: %d of %d accepted (%v)", rb.ok, x.o.redisEvents, rb.statuses)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		p, err := x.rdb.ZCard(ctx, placedKey).Result()
		if err != nil {
			return err
		}
		if p >= p0+int64(x.o.redisEvents) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("call window: %d of %d placed", p-p0, x.o.redisEvents)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the last Finish has returned
	topB, luaB := take()
	b1, err := stats()
	if err != nil {
		return err
	}
	secsB := time.Since(tB).Seconds()
	allTotal := ignore(b1.minus(b0, 1)).minus(bg, secsB).div(n)
	allTop := ignore(topB).minus(bgTop, secsB).div(n)
	allLua := luaB.minus(bgLua, secsB).div(n)
	callTotal := allTotal.minus(accTotal, 1)
	callTop := allTop.minus(accTop, 1)
	callLua := allLua.minus(accLua, 1)

	rc := &x.rep.Redis
	rc.Events = x.o.redisEvents
	fig := func(total, top, lua cmdCounts) redisFigure {
		f := redisFigure{Total: round(total.total(), 2), CommandStats: round(total.total(), 2), TotalBy: total.String(),
			TopLevel: round(top.total(), 2), InScripts: round(lua.total(), 2), TopLevelBy: top.String(), InScriptsBy: lua.String()}
		if mon != nil {
			// MONITOR sees this database only: other clients of the same
			// server (INFO commandstats is server-wide) do not count.
			f.Total = round(top.total()+lua.total(), 2)
		}
		return f
	}
	rc.PerAccepted = fig(accTotal, accTop, accLua)
	rc.PerPlaced = fig(callTotal, callTop, callLua)
	rc.Background = bg.String()
	rc.Monitor = mon != nil
	x.logf("redis per accepted event: %.2f commands (%.2f sent: %s; %.2f in scripts: %s)", rc.PerAccepted.Total, rc.PerAccepted.TopLevel, rc.PerAccepted.TopLevelBy, rc.PerAccepted.InScripts, rc.PerAccepted.InScriptsBy)
	x.logf("redis per placed call:    %.2f commands (%.2f sent: %s; %.2f in scripts: %s)", rc.PerPlaced.Total, rc.PerPlaced.TopLevel, rc.PerPlaced.TopLevelBy, rc.PerPlaced.InScripts, rc.PerPlaced.InScriptsBy)
	return nil
}

// slowEndToEnd: the fake answers after --slow-latency; a burst is placed at
// the pace the uContact concurrency allows.
func (x *h) slowEndToEnd() error {
	lat := x.o.slowLatency
	ceiling := float64(x.o.concurrency) / lat.Seconds()
	events := int(math.Max(100, math.Min(ceiling, 400)*4))
	m0, err := x.drained(30 * time.Second)
	if err != nil {
		return err
	}
	x.fake.setLatency(lat)
	defer x.fake.setLatency(x.o.fakeLatency)
	f0 := finals(m0)
	start := time.Now()
	r := count(x.dhT, x.src, 32, events)
	end, m1, err := x.waitFinal(f0+float64(r.ok), time.Duration(float64(events)/ceiling*1.5*float64(time.Second))+20*time.Second)
	if err != nil {
		return err
	}
	placed := m1.sum("dialhook_events", `state="placed"`) - m0.sum("dialhook_events", `state="placed"`)
	secs := end.Sub(start).Seconds()
	x.rep.EndToEnd.Slow = e2eRun{FakeLatencyMs: lat.Milliseconds(), Events: int64(placed), Seconds: round(secs, 2), PlacedPerSec: round(placed/secs, 1),
		Ceiling: round(ceiling, 1),
		Note:    fmt.Sprintf("%d events sent at once; ceiling = concurrency %d / %s", events, x.o.concurrency, lat)}
	x.logf("end to end with a %s uContact: %.0f placed in %.2fs = %.1f/s (concurrency ceiling %.0f/s)",
		lat, placed, secs, placed/secs, ceiling)
	return nil
}

func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
