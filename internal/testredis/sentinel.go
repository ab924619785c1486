package testredis

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a master, its replicas and three Sentinels watching it, all
// real processes on loopback.
type Sentinel struct {
	Master    *Server
	Replicas  []*Server
	Sentinels []*Server
	Name      string // the master's name the Sentinels know
	URL       string // redis://s1,s2,s3/0?master=NAME
}

// StartSentinel starts a Sentinel group of its own for this test: a
// master, replicas replicas of it, and three Sentinels (quorum 2) that
// consider a master down after downAfter. It is stopped when the test ends.
func StartSentinel(t testing.TB, replicas int, downAfter time.Duration) *Sentinel {
	t.Helper()
	dir := t.TempDir()
	g := &Sentinel{Name: "dialhook-test"}
	g.Master = StartArgs(t, "--dir", t.TempDir(), "--repl-diskless-sync-delay", "0")
	for range replicas {
		host, port, _ := strings.Cut(g.Master.Addr, ":")
		g.Replicas = append(g.Replicas, StartArgs(t, "--dir", t.TempDir(), "--replicaof", host, port))
	}
	waitReplicas(t, g.Master.Addr, replicas)
	var addrs []string
	// failover-timeout also spaces a Sentinel's retries after a failed
	// election (twice the timeout): with the default 180 s, and even with
	// 10 s, one split vote on a busy machine outlasts any recovery budget.
	// A failover of a test-sized dataset finishes well within 3 s.
	const failoverTimeout = 3000
	for i := range 3 {
		addr := freeAddr(t)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		body := fmt.Sprintf("port %s\nbind 127.0.0.1\nsentinel monitor %s %s 2\nsentinel down-after-milliseconds %s %d\n"+
			"sentinel failover-timeout %s %d\nsentinel parallel-syncs %s 1\n",
			strings.Split(addr, ":")[1], g.Name, strings.Replace(g.Master.Addr, ":", " ", 1), g.Name, downAfter.Milliseconds(), g.Name, failoverTimeout, g.Name)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := startSentinelProc(addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		g.Sentinels = append(g.Sentinels, s)
		addrs = append(addrs, addr)
	}
	g.URL = "redis://" + strings.Join(addrs, ",") + "/0?master=" + g.Name
	return g
}

func startSentinelProc(addr, conf string) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, conf, "--sentinel", "--daemonize", "no", "--logfile", "")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	track(cmd)
	s := &Server{Addr: addr, cmd: cmd}
	if err := waitUp(addr); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReplicas waits until the master at addr has n replicas online.
func waitReplicas(t testing.TB, addr string, n int) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, fmt.Sprintf("connected_slaves:%d", n)) && strings.Count(info, "state=online") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("master %s has no %d replicas online: %v %s", addr, n, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
