package testredis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of real redis-server processes on loopback.
type Cluster struct {
	Nodes []*Server // every node; which are masters changes with failovers
	URL   string    // redis://host:port,… of every node
}

var (
	clusterOnce sync.Once
	clusterURL  string
	clusterErr  error
)

// ClusterURL returns the URL of a Redis Cluster of 3 masters for this
// test: DIALHOOK_TEST_CLUSTER_URL when set (CI starts one), else one
// started once per test binary and stopped by Main. Tests share it: each
// keeps its keys apart with a Namespace of its own.
func ClusterURL(t testing.TB) string {
	t.Helper()
	clusterOnce.Do(func() {
		if clusterURL = os.Getenv("DIALHOOK_TEST_CLUSTER_URL"); clusterURL != "" {
			return
		}
		if _, err := exec.LookPath("redis-cli"); err != nil {
			clusterErr = errors.New("redis-cli is not on PATH")
			return
		}
		dir, err := os.MkdirTemp("", "dialhook-cluster-")
		if err != nil {
			clusterErr = err
			return
		}
		var c *Cluster
		c, clusterErr = startCluster(dir, 3, 0, 2*time.Second)
		if clusterErr == nil {
			clusterURL = c.URL
		}
	})
	if clusterErr != nil {
		unavailable(t, "no Redis Cluster: "+clusterErr.Error())
	}
	return clusterURL
}

// StartCluster starts a Redis Cluster of its own for this test, with
// masters masters and replicas replicas each, and nodeTimeout (how long a
// master may be silent before its replica takes over). It is stopped when
// the test ends.
func StartCluster(t testing.TB, masters, replicas int, nodeTimeout time.Duration) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		unavailable(t, "redis-cli is not on PATH")
	}
	c, err := startCluster(t.TempDir(), masters, replicas, nodeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			n.Stop()
		}
	})
	return c
}

func startCluster(dir string, masters, replicas int, nodeTimeout time.Duration) (*Cluster, error) {
	c := &Cluster{}
	var addrs []string
	for i := 0; i < masters*(1+replicas); i++ {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		_, port, _ := strings.Cut(addr, ":")
		ndir := filepath.Join(dir, port)
		if err := os.MkdirAll(ndir, 0o755); err != nil {
			return nil, err
		}
		n, err := startProc(addr, "--save", "", "--appendonly", "no", "--dir", ndir, "--repl-diskless-sync-delay", "0",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(ndir, "nodes.conf"),
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10))
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := waitClusterOK(addrs, masters*(1+replicas)); err != nil {
		return nil, err
	}
	if err := waitReplicated(addrs, replicas); err != nil {
		return nil, err
	}
	c.URL = "redis://" + strings.Join(addrs, ",")
	return c, nil
}

// waitClusterOK waits until every node says cluster_state:ok and knows
// every other node.
func waitClusterOK(addrs []string, nodes int) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(nodes)) {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				return fmt.Errorf("cluster node %s not ready: %v %s", a, err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
	}
	return nil
}

// waitReplicated waits until every master has its replicas online.
func waitReplicated(addrs []string, replicas int) error {
	if replicas == 0 {
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := c.Info(context.Background(), "replication").Result()
			if err == nil && (strings.Contains(info, "role:slave") || strings.Count(info, "state=online") >= replicas) {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				return fmt.Errorf("cluster node %s: replicas not online: %v %s", a, err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
	}
	return nil
}

// Masters returns the nodes that are masters now.
func (c *Cluster) Masters(t testing.TB) []*Server {
	t.Helper()
	var out []*Server
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		role, err := cl.Do(context.Background(), "ROLE").Slice()
		cl.Close()
		if err == nil && len(role) > 0 && role[0] == "master" {
			out = append(out, n)
		}
	}
	return out
}

// WaitMasters waits until n nodes answer as masters (a replica promoted
// after a master was stopped) and returns when; zero after timeout.
func (c *Cluster) WaitMasters(n int, timeout time.Duration) time.Time {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		masters := 0
		for _, node := range c.Nodes {
			cl := redis.NewClient(&redis.Options{Addr: node.Addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
			role, err := cl.Do(context.Background(), "ROLE").Slice()
			cl.Close()
			if err == nil && len(role) > 0 && role[0] == "master" {
				masters++
			}
		}
		if masters >= n {
			return time.Now()
		}
	}
	return time.Time{}
}
