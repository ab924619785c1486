package redisinspect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
	"dialhook/store/redisinspect"
)

// clusterKeys writes n keys spread over every slot range, and returns them.
func clusterKeys(t *testing.T, c *redis.ClusterClient, prefix string, n int) []string {
	t.Helper()
	var keys []string
	for i := range n {
		k := fmt.Sprintf("%s:{%d}", prefix, i)
		if err := c.Set(context.Background(), k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func left(t *testing.T, c *redis.ClusterClient, keys []string) int {
	t.Helper()
	n := 0
	for _, k := range keys {
		if c.Exists(context.Background(), k).Val() == 1 {
			n++
		}
	}
	return n
}

// masters are clients of the Cluster's masters, by address.
func masters(t *testing.T, cl *testredis.Cluster) map[string]*redis.Client {
	t.Helper()
	out := map[string]*redis.Client{}
	for _, s := range cl.Masters(t) {
		out[s.Addr] = client(t, s.Addr, 0)
	}
	return out
}

// On a Cluster, FlushDB checks every master before emptying any: a key the
// harness did not write on one master stops it, and nothing is deleted on
// any master; a marked Cluster (a marker on each master) is emptied. The
// Cluster is the test's own: FlushDB empties whole masters, which the
// shared test Cluster must never see.
func TestClusterFlushDB(t *testing.T) {
	cl := testredis.StartCluster(t, 3, 0, 2*time.Second)
	ctx := context.Background()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(strings.TrimPrefix(cl.URL, "redis://"), ",")})
	t.Cleanup(func() { _ = c.Close() })
	in := open(t, cl.URL, "bench-test")
	if got := len(in.Servers()); got != 3 || !in.Cluster() {
		t.Fatalf("Servers = %v, Cluster = %v; want the 3 masters", in.Servers(), in.Cluster())
	}

	if err := in.FlushDB(ctx, false); err != nil {
		t.Fatalf("FlushDB of an empty Cluster = %v", err)
	}
	ms := masters(t, cl)
	for addr, m := range ms {
		if n := m.DBSize(ctx).Val(); n != 1 {
			t.Errorf("master %s holds %d keys after the flush, want its marker only", addr, n)
		}
	}
	// Marked: the harness's keys on every master go without asking.
	ours := clusterKeys(t, c, "dialhook:run", 30)
	if err := in.FlushDB(ctx, false); err != nil {
		t.Fatalf("FlushDB of a marked Cluster = %v", err)
	}
	if n := left(t, c, ours); n != 0 {
		t.Errorf("%d of the harness's keys left", n)
	}

	// One foreign key, on one master only: nothing is deleted anywhere.
	ours = clusterKeys(t, c, "dialhook:run", 30)
	foreign := clusterKeys(t, c, "app:user", 1)
	var owner string
	for addr, m := range ms {
		if m.Exists(ctx, foreign[0]).Val() == 1 {
			owner = addr
		}
	}
	// The master holding it is no longer marked: someone else's data.
	markers := ms[owner].Keys(ctx, "dialhook-bench:owner*").Val()
	if len(markers) != 1 {
		t.Fatalf("markers on master %s: %v, want one", owner, markers)
	}
	ms[owner].Del(ctx, markers[0])
	err := in.FlushDB(ctx, false)
	if !errors.Is(err, redisinspect.ErrForeignKeys) {
		t.Fatalf("FlushDB with a foreign key = %v, want ErrForeignKeys", err)
	}
	if !strings.Contains(err.Error(), "on master "+owner) {
		t.Errorf("error %q does not name master %s", err, owner)
	}
	if n := left(t, c, append(ours, foreign...)); n != len(ours)+1 {
		t.Errorf("%d of %d keys left after a refused flush", n, len(ours)+1)
	}
	if err := in.FlushDB(ctx, true); err != nil {
		t.Fatalf("forced FlushDB = %v", err)
	}
	if n := left(t, c, append(ours, foreign...)); n != 0 {
		t.Errorf("%d keys left after a forced flush", n)
	}
}

// On a Cluster the figures are the masters' summed, and MONITOR follows
// every master.
func TestClusterFigures(t *testing.T) {
	cl := testredis.StartCluster(t, 3, 0, 2*time.Second)
	ctx := context.Background()
	in := open(t, cl.URL, "bench-test")
	if v, err := in.Version(ctx); err != nil || v == "" || strings.Contains(v, "/") {
		t.Errorf("Version = %q, %v; want the masters' one version", v, err)
	}
	if cpu, err := in.CPU(ctx); err != nil || cpu <= 0 {
		t.Errorf("CPU = %v, %v; want > 0", cpu, err)
	}
	own, err := in.ClientAddrs(ctx, "bench-test")
	if err != nil || len(own) != 3 {
		t.Fatalf("ClientAddrs = %v, %v; want the inspector's connection to each of the 3 masters", own, err)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(strings.TrimPrefix(cl.URL, "redis://"), ",")})
	t.Cleanup(func() { _ = c.Close() })
	// Connected before MONITOR starts: their set-up is not counted.
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	mon, err := in.Monitor(own)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Stop()
	before, err := in.CommandStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := clusterKeys(t, c, "k", 60) // 60 SETs over the 3 masters
	after, err := in.CommandStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := after["set"] - before["set"]; d != float64(len(keys)) {
		t.Errorf("commandstats set grew by %v over the masters, want %d", d, len(keys))
	}
	var top redisinspect.Counts
	for deadline := time.Now().Add(2 * time.Second); top["set"] < float64(len(keys)) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		tp, _ := mon.Take()
		top = merge(top, tp)
	}
	if top["set"] != float64(len(keys)) {
		t.Errorf("MONITOR counted %v SETs over the masters, want %d", top["set"], len(keys))
	}
}
