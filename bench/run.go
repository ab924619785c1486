package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"dialhook/store"
	"dialhook/store/redisinspect"
	"dialhook/store/redisurl"
)

// harnessClient names the harness's own Redis connections (CLIENT SETNAME),
// so that MONITOR leaves their commands out of dialhook's.
const harnessClient = "dialhook-bench"

// h is the harness's state for one run.
type h struct {
	o       *options
	src     *source
	fake    *fakeUContact
	ins     *redisinspect.Inspector // Redis' own accounting, the flush
	cmpIns  *redisinspect.Inspector // --compare-url, when --redis-url is a Cluster
	st      *store.Redis            // dialhook's events, read as dialhook reads them
	dh, ech *proc
	replica *proc // the private master's replica, for the stores step
	dhT     *target
	echoT   *target
	scrapeC *http.Client
	admin   string
	ucToken string
	rep     *report
	logf    func(format string, args ...any)

	tmp, bin, cfgPath, dhLogPath string

	mu     sync.Mutex // held while the clean-up runs
	onExit []func()   // run last first, when run returns or on Ctrl-C
}

func run(o *options) error {
	began := time.Now()
	x := &h{o: o, logf: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}}
	defer x.cleanup()
	x.onSignal()
	if err := x.prepare(); err != nil {
		return err
	}
	if err := x.startServers(); err != nil {
		return err
	}
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
		{"stores", x.stores},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w (dialhook log: %s)", s.name, err, x.dhLogPath)
		}
	}
	x.dh.stop(10 * time.Second)
	x.rep.WallSeconds = round(time.Since(began).Seconds(), 1)
	x.rep.verdicts()
	x.rep.print(os.Stdout)
	return x.writeOut()
}

func (x *h) atExit(f func()) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.onExit = append(x.onExit, f)
}

// cleanup stops every process the harness started and removes its files,
// once; a second caller (Ctrl-C during the clean-up) waits for the first.
func (x *h) cleanup() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := len(x.onExit) - 1; i >= 0; i-- {
		x.onExit[i]()
	}
	x.onExit = nil
}

// onSignal makes Ctrl-C (or SIGTERM) stop every process the harness
// started (dialhook, the bare Echo server, the private Redis servers)
// before it leaves. The servers run in process groups of their own, so the
// terminal's Ctrl-C reaches the harness only.
func (x *h) onSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		x.logf("interrupted: stopping the processes the harness started")
		x.cleanup()
		os.Exit(130)
	}()
}

// prepare empties the Redis database, builds dialhook, writes the
// configuration and starts the fake uContact.
func (x *h) prepare() error {
	unlock, err := lockRun()
	if err != nil {
		return err
	}
	x.atExit(unlock)
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	// Redis first: a database the harness may not empty stops the run
	// before the build.
	version, err := x.openRedis()
	if err != nil {
		return err
	}
	if err := x.build(root); err != nil {
		return err
	}
	sec := newSecrets()
	if x.src, err = newSource(x.o.source, sec); err != nil {
		return err
	}
	x.cfgPath = filepath.Join(x.tmp, "dialhook.yaml")
	if err := os.WriteFile(x.cfgPath, []byte(x.src.configYAML()), 0o600); err != nil {
		return err
	}
	if x.fake, err = startFake(); err != nil {
		return err
	}
	x.atExit(x.fake.stop)
	x.fake.setLatency(x.o.fakeLatency)
	x.scrapeC = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	x.admin, x.ucToken = "bench-"+sec.nonce, "bench-token-"+sec.nonce
	x.rep = newReport(x.o, version)
	x.rep.RedisDeploy = deployment(x.ins.Servers(), x.ins.Cluster())
	return nil
}

// build makes the temporary directory and builds dialhook into it.
func (x *h) build(root string) error {
	tmp, err := os.MkdirTemp("", "dialhook-bench-")
	if err != nil {
		return err
	}
	x.tmp = tmp
	if x.o.keep {
		x.logf("temporary directory: %s", tmp)
	} else {
		x.atExit(func() { os.RemoveAll(tmp) })
	}
	x.logf("building dialhook")
	x.bin = filepath.Join(tmp, "dialhook")
	build := exec.Command("go", "build", "-o", x.bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// openRedis opens the harness's own connections to dialhook's Redis (every
// master of a Cluster) and empties the database for the run: only one that
// is empty or that an earlier run marked, unless --flush. When --redis-url
// is a Cluster, --compare-url too, for the stores step. It returns the
// server's version.
func (x *h) openRedis() (string, error) {
	var err error
	if x.ins, err = x.openFlushed("--redis-url", x.o.redisURL); err != nil {
		return "", err
	}
	if x.ins.Cluster() {
		if u, err := redisurl.Parse(x.o.compareURL); err == nil && u.Mode != redisurl.Single {
			return "", errors.New("--compare-url: one Redis server (redis://host:port/db), not a " + u.Mode.String())
		}
		if x.cmpIns, err = x.openFlushed("--compare-url", x.o.compareURL); err != nil {
			return "", err
		}
	}
	version, _ := x.ins.Version(context.Background())
	return version, nil
}

// openFlushed opens an inspector on url and empties its database (see
// openRedis); flag names the URL in errors.
func (x *h) openFlushed(flag, url string) (*redisinspect.Inspector, error) {
	ctx := context.Background()
	ins, err := redisinspect.Open(ctx, url, harnessClient)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	x.atExit(func() { _ = ins.Close() })
	where := redisurl.Mask(url)
	err = ins.FlushDB(ctx, x.o.flush)
	if errors.Is(err, redisinspect.ErrForeignKeys) {
		return nil, fmt.Errorf("refusing to flush %s: %w; pass --flush to empty it anyway, or pick another database with %s", where, err, flag)
	}
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", where, err)
	}
	return ins, nil
}

// startServers starts the bare Echo server and dialhook, and waits until
// both answer.
func (x *h) startServers() error {
	echoAddr, err := x.startEcho()
	if err != nil {
		return err
	}
	x.dhLogPath = filepath.Join(x.tmp, "dialhook.log")
	var dhAddr string
	if x.dh, dhAddr, err = x.startDialhook(x.dhLogPath, x.o.redisURL, ""); err != nil {
		return err
	}
	if err := x.dh.waitHTTP("http://"+dhAddr+"/readyz", 15*time.Second); err != nil {
		return fmt.Errorf("%w (log: %s)", err, tail(x.dhLogPath))
	}
	if err := x.ech.waitHTTP("http://"+echoAddr+"/healthz", 10*time.Second); err != nil {
		return err
	}
	x.dhT, x.echoT = newTarget("dialhook", dhAddr), newTarget("echo", echoAddr)
	if err := x.openStore(); err != nil {
		return err
	}
	x.logf("dialhook pid %d on %s, bare Echo pid %d on %s, fake AgentCall on %s, source %s", x.dh.pid(), dhAddr, x.ech.pid(), echoAddr, x.fake.addr, x.o.source)
	return nil
}

// startEcho starts the bare Echo server: this program again, in a process
// of its own.
func (x *h) startEcho() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	log, err := os.Create(filepath.Join(x.tmp, "echo.log"))
	if err != nil {
		return "", err
	}
	x.atExit(func() { log.Close() })
	if x.ech, err = startProc("echo", self, nil, append(cleanEnv(), echoEnv+"="+addr), log, addr); err != nil {
		return "", err
	}
	x.atExit(func() { x.ech.stop(3 * time.Second) })
	return addr, nil
}

// startDialhook starts dialhook, the real run() path, on the Redis of
// redisURL, with durability ("": the default), logging JSON to logPath.
// Every instance of a run has the same binary and configuration otherwise.
func (x *h) startDialhook(logPath, redisURL, durability string, extraEnv ...string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	x.atExit(func() { log.Close() })
	env := append(cleanEnv(),
		"DIALHOOK_ADDR="+addr,
		"DIALHOOK_REDIS_URL="+redisURL,
		"DIALHOOK_ADMIN_TOKEN="+x.admin,
		"DIALHOOK_LOG_FORMAT=json",
		"DIALHOOK_WORKERS="+strconv.Itoa(x.o.workers),
		"DIALHOOK_UCONTACT_CONCURRENCY="+strconv.Itoa(x.o.concurrency),
		"UCONTACT_BASE_URL=http://"+x.fake.addr,
		"UCONTACT_TOKEN="+x.ucToken,
	)
	if durability != "" {
		env = append(env, "DIALHOOK_DURABILITY="+durability)
	}
	env = append(env, extraEnv...)
	p, err := startProc("dialhook", x.bin, []string{"--config", x.cfgPath}, env, log, addr)
	if err != nil {
		return nil, "", err
	}
	x.atExit(func() { p.stop(10 * time.Second) })
	return p, addr, nil
}

// openStore opens dialhook's store on its Redis, once dialhook has prepared
// it, with connections named like the harness's so that MONITOR leaves them
// out: the harness reads dialhook's events through the store's API, never
// by key. The namespace is the default, as in the run's configuration.
func (x *h) openStore() error {
	u, err := url.Parse(x.o.redisURL)
	if err != nil {
		return errors.New("--redis-url: not a URL") // url.Error would repeat a password
	}
	q := u.Query()
	q.Set("client_name", harnessClient)
	u.RawQuery = q.Encode()
	if x.st, err = store.OpenRedis(context.Background(), u.String(), store.RedisOptions{}); err != nil {
		return err
	}
	x.atExit(func() { _ = x.st.Close() })
	// A first reading opens its connections before MONITOR lists them.
	_, err = x.placed()
	return err
}

func (x *h) writeOut() error {
	if x.o.out == "" {
		return nil
	}
	b, err := json.MarshalIndent(x.rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(x.o.out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	x.logf("wrote %s", x.o.out)
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
