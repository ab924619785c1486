// Package testredis gives tests a real, empty Redis database.
//
// It uses DIALHOOK_TEST_REDIS_URL when set, else starts a throwaway
// redis-server from PATH on a free port, else skips the test with a clear
// message — except when CI=true, where a missing Redis fails the test.
//
// It must not: be imported by production code (TestImportBoundaries checks
// it), or leave a redis-server running (Main stops what it started).
package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	once     sync.Once
	baseURL  string
	startErr error

	// started are the redis-server processes this test binary started,
	// stopped by Main when the tests are over (and by each test's cleanup).
	mu      sync.Mutex
	started = map[*exec.Cmd]bool{}
)

// Main runs the tests, then stops every redis-server they started — the
// shared one of URL included — so that none outlives the test binary. A
// package whose tests use testredis calls it from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }
func Main(m *testing.M) int {
	Silence()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	for cmd := range started {
		kill(cmd)
		delete(started, cmd)
	}
	return code
}

// track notes a started redis-server; untrack forgets a stopped one.
func track(cmd *exec.Cmd) {
	mu.Lock()
	started[cmd] = true
	mu.Unlock()
}

func kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused server would not die before Wait
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Server is a redis-server process started for a test.
type Server struct {
	Addr string
	cmd  *exec.Cmd
}

// Start runs a new redis-server on addr ("" picks a free port), without
// persistence. Stop it with Stop; the test fails if it cannot start.
func Start(t testing.TB, addr string) *Server {
	t.Helper()
	return start(t, addr, "--save", "", "--appendonly", "no")
}

// StartPersistent runs a new redis-server on addr ("" picks a free port)
// that writes every change to an append-only file in dir before answering
// (appendfsync always). Started again on the same addr and dir after Stop,
// it comes back with the data, as a production Redis restarted after a
// crash does.
func StartPersistent(t testing.TB, addr, dir string) *Server {
	t.Helper()
	return start(t, addr, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir)
}

func start(t testing.TB, addr string, args ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server is not on PATH")
	}
	if addr == "" {
		addr = freeAddr(t)
	}
	s, err := startProc(addr, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// startProc runs redis-server on addr with args and waits until it answers;
// Main stops it if nobody did.
func startProc(addr string, args ...string) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	all := append([]string{"--bind", host, "--port", port}, args...)
	cmd := exec.Command(path, append(all, "--daemonize", "no", "--logfile", "")...)
	// A server told to persist without --dir writes into its working
	// directory: never the package under test.
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	track(cmd)
	s := &Server{Addr: addr, cmd: cmd}
	if err := waitUp(addr); err != nil {
		s.Stop()
		return nil, fmt.Errorf("redis-server on %s: %w", addr, err)
	}
	return s, nil
}

// StartArgs runs a new redis-server on a free port without persistence,
// with extra arguments (e.g. "--maxmemory-policy", "allkeys-lru").
func StartArgs(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, "", append([]string{"--save", "", "--appendonly", "no"}, extra...)...)
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Pause stops the server process (SIGSTOP): it keeps its connections and
// its data but answers nothing, as a Redis stalled by a slow disk or a
// long command does. Resume continues it.
func (s *Server) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Stop kills the server (as a crash would). It may be called again.
func (s *Server) Stop() {
	mu.Lock()
	defer mu.Unlock()
	if s.cmd != nil && started[s.cmd] {
		kill(s.cmd)
		delete(started, s.cmd)
	}
}

func freeAddr(t testing.TB) string {
	a, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return a
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitUp(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("real Redis is required in CI: %s (set DIALHOOK_TEST_REDIS_URL or install redis-server)", why)
	}
	t.Skipf("skipping: no Redis for this test: %s (set DIALHOOK_TEST_REDIS_URL or install redis-server)", why)
}

// URL returns the URL of a real Redis for this test. Tests share it: each
// one keeps its keys apart with a Namespace of its own.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		baseURL = os.Getenv("DIALHOOK_TEST_REDIS_URL")
		if baseURL != "" {
			return
		}
		path, err := exec.LookPath("redis-server")
		if err != nil {
			startErr = fmt.Errorf("DIALHOOK_TEST_REDIS_URL is not set and redis-server is not on PATH")
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			startErr = err
			return
		}
		addr := l.Addr().String()
		l.Close()
		_, port, _ := net.SplitHostPort(addr)
		// Started once per test binary, without persistence.
		cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--logfile", "")
		if err := cmd.Start(); err != nil {
			startErr = err
			return
		}
		track(cmd)
		if err := waitUp(addr); err != nil {
			startErr = err
			return
		}
		baseURL = "redis://" + addr + "/0"
	})
	if startErr != nil {
		unavailable(t, startErr.Error())
	}
	opt, err := redis.ParseURL(baseURL)
	if err != nil {
		t.Fatalf("DIALHOOK_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, fmt.Sprintf("redis at %s does not answer: %v", opt.Addr, err))
	}
	return baseURL
}

// Namespace returns a key namespace no other test uses.
func Namespace(t testing.TB) string {
	return "dialhook-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(int(counter.Add(1)))
}

var counter atomic.Int64

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Silence stops go-redis' own logger, for a TestMain: outage tests would
// otherwise flood the output with its reconnect attempts.
func Silence() { redis.SetLogger(quiet{}) }
