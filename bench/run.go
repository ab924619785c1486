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
	st      *store.Redis            // dialhook's events, read as dialhook reads them
	dh, ech *proc
	dhT     *target
	echoT   *target
	scrapeC *http.Client
	admin   string
	ucToken string
	rep     *report
	logf    func(format string, args ...any)

	tmp, bin, cfgPath, dhLogPath string
	onExit                       []func() // run last first, when run returns
}

func run(o *options) error {
	began := time.Now()
	x := &h{o: o, logf: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}}
	defer x.cleanup()
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

func (x *h) atExit(f func()) { x.onExit = append(x.onExit, f) }

func (x *h) cleanup() {
	for i := len(x.onExit) - 1; i >= 0; i-- {
		x.onExit[i]()
	}
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

// openRedis opens the harness's own connection to dialhook's Redis and
// empties the database for the run: only one that is empty or that an
// earlier run marked, unless --flush. It returns the server's version.
func (x *h) openRedis() (string, error) {
	ins, err := redisinspect.Open(context.Background(), x.o.redisURL, harnessClient)
	if err != nil {
		return "", fmt.Errorf("--redis-url: %w", err)
	}
	x.ins = ins
	x.atExit(func() { _ = ins.Close() })
	ctx := context.Background()
	where := redisurl.Mask(x.o.redisURL)
	err = ins.FlushDB(ctx, x.o.flush)
	if errors.Is(err, redisinspect.ErrForeignKeys) {
		return "", fmt.Errorf("refusing to flush %s: %w; pass --flush to empty it anyway, or pick another database with --redis-url", where, err)
	}
	if err != nil {
		return "", fmt.Errorf("redis %s: %w", where, err)
	}
	version, _ := ins.Version(ctx)
	return version, nil
}

// startServers starts the bare Echo server and dialhook, and waits until
// both answer.
func (x *h) startServers() error {
	echoAddr, err := x.startEcho()
	if err != nil {
		return err
	}
	dhAddr, err := x.startDialhook()
	if err != nil {
		return err
	}
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

// startDialhook starts dialhook, the real run() path, logging JSON to a
// file.
func (x *h) startDialhook() (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	x.dhLogPath = filepath.Join(x.tmp, "dialhook.log")
	log, err := os.Create(x.dhLogPath)
	if err != nil {
		return "", err
	}
	x.atExit(func() { log.Close() })
	env := append(cleanEnv(),
		"DIALHOOK_ADDR="+addr,
		"DIALHOOK_REDIS_URL="+x.o.redisURL,
		"DIALHOOK_ADMIN_TOKEN="+x.admin,
		"DIALHOOK_LOG_FORMAT=json",
		"DIALHOOK_WORKERS="+strconv.Itoa(x.o.workers),
		"DIALHOOK_UCONTACT_CONCURRENCY="+strconv.Itoa(x.o.concurrency),
		"UCONTACT_BASE_URL=http://"+x.fake.addr,
		"UCONTACT_TOKEN="+x.ucToken,
	)
	if x.dh, err = startProc("dialhook", x.bin, []string{"--config", x.cfgPath}, env, log, addr); err != nil {
		return "", err
	}
	x.atExit(func() { x.dh.stop(10 * time.Second) })
	return addr, nil
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
