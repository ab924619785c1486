package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
	"dialhook/store/redisinspect"
)

func level(w int, acc, p99 float64) storeLevel {
	return storeLevel{Workers: w, Accepted: acc, P99: p99}
}

// withCPU gives every level of r cpu µs per accepted request (dialhook
// and Redis halves).
func withCPU(r storeRun, cpu float64) storeRun {
	r.Levels = append([]storeLevel(nil), r.Levels...)
	for i := range r.Levels {
		r.Levels[i].CPU = storeCPU{Dialhook: cpu / 2, Redis: cpu / 2}
	}
	return r
}

func TestStoreRatios(t *testing.T) {
	single := storeRun{Kind: "single", Best: 10000, Levels: []storeLevel{level(32, 8000, 4), level(128, 10000, 16)}}
	cluster := storeRun{Kind: "cluster", Best: 9000, Levels: []storeLevel{level(32, 8000, 5), level(128, 9000, 12)}}
	local := storeRun{Kind: "local", Best: 6000, Levels: []storeLevel{level(32, 6000, 5)}}
	repl := storeRun{Kind: "replicated", Best: 3000, Levels: []storeLevel{level(32, 3000, 10)}}
	noCluster := storeRun{Kind: "cluster", Skipped: "no cluster"}
	off := storeRun{Kind: "console-off", Best: 10000, Levels: []storeLevel{level(32, 8000, 4)}}
	for _, tc := range []struct {
		name string
		rows []storeRun
		want []storeRatio
	}{
		{name: "every row", rows: []storeRun{single, cluster, local, repl}, want: []storeRatio{
			{Name: "cluster/single", Best: 0.9, Levels: []levelRatio{{32, 1, 1.25, 0}, {128, 0.9, 0.75, 0}}},
			{Name: "replicated/local", Best: 0.5, Levels: []levelRatio{{32, 0.5, 2, 0}}},
		}},
		{name: "no cluster", rows: []storeRun{single, noCluster, local, repl}, want: []storeRatio{
			{Name: "replicated/local", Best: 0.5, Levels: []levelRatio{{32, 0.5, 2, 0}}},
		}},
		{name: "nothing to compare", rows: []storeRun{single, noCluster}},
		{name: "console on and off", rows: []storeRun{withCPU(single, 100), withCPU(off, 92)}, want: []storeRatio{
			{Name: "single/console-off", Best: 1.0, Levels: []levelRatio{{32, 1, 1, 1.09}}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := storeRatios(tc.rows); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("storeRatios = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The stores table names each store with its masters, says why a row was
// skipped, and prints the ratios of the same run.
func TestPrintStores(t *testing.T) {
	r := &report{Stores: storesResult{IngestDuration: "3s", Workers: []int{32, 128}, Rows: []storeRun{
		{Kind: "single", Store: storeLabel(storeSpec{kind: "single", from: "--redis-url"}), URL: "redis://127.0.0.1:6379/15",
			Levels: []storeLevel{{Workers: 32, Accepted: 8000, P50: 1, P99: 4}, {Workers: 128, Accepted: 10000, P99: 16, Failed: 2, Statuses: map[int]int64{503: 2}, OtherCores: 0.3}}},
		{Kind: "cluster", Store: storeLabel(storeSpec{kind: "cluster", skipped: "x"}), Skipped: "no cluster: pass --redis-url redis://h1:p1,h2:p2,h3:p3"},
	}}}
	r.Stores.Ratios = []storeRatio{{Name: "replicated/local", Best: 0.5, Levels: []levelRatio{{32, 0.5, 2, 0}}}}
	var b bytes.Buffer
	r.printStores(&b)
	out := b.String()
	for _, want := range []string{
		"one Redis, 1 master (--redis-url)", "10000", "1.00 / 4.00 ms", "2 map[503:2]", "redis://127.0.0.1:6379/15", "[0.3 CPU busy elsewhere]",
		"Redis Cluster", "no cluster: pass --redis-url redis://h1:p1,h2:p2,h3:p3",
		"replicated/local", "best accepted/s 0.50×", "@32 workers: accepted/s 0.50×, p99 2.00×",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stores table does not say %q:\n%s", want, out)
		}
	}
}

// The budget is issue 12's: commands in all per accepted event ≤ 5 (6 with
// the console's search index, issue 13) and per placed call ≤ 10, ingest
// ≥ 0.5× a bare Echo server; the console's storage ≤ 1.10× the CPU per
// accepted webhook.
func TestVerdictsIssue12(t *testing.T) {
	for _, tc := range []struct {
		name                            string
		accepted, placed, console       float64
		wantAcc, wantPlace, wantConsole bool
	}{
		{name: "within", accepted: 6, placed: 10, console: 1.08, wantAcc: true, wantPlace: true, wantConsole: true},
		{name: "above", accepted: 6.13, placed: 11.45, console: 1.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{}
			r.Redis.Monitor = true
			r.Redis.PerAccepted.Total, r.Redis.PerPlaced.Total = tc.accepted, tc.placed
			r.Ingest.Ratio = 0.5
			r.Stores.Ratios = []storeRatio{{Name: "single/console-off", Levels: []levelRatio{{32, 1, 1, tc.console}, {128, 1, 1, tc.console}}}}
			r.verdicts()
			got := map[string]verdict{}
			for _, v := range r.Budget {
				got[v.Name] = v
			}
			for name, want := range map[string]struct {
				budget string
				met    bool
			}{
				"Redis commands per accepted event (in all, the EVALSHA included)": {"≤ 6 (5 + the console's index)", tc.wantAcc},
				"console storage, CPU per accepted webhook (dialhook + Redis)":     {"≤ 1.10× console off", tc.wantConsole},
				"Redis commands per placed call (in all, incl. inside scripts)":    {"≤ 10", tc.wantPlace},
				"ingest vs bare Echo": {"≥ 0.5×", true},
			} {
				v, ok := got[name]
				if !ok || v.Budget != want.budget || v.Met != want.met {
					t.Errorf("budget row %q = %+v (present %v), want budget %s, met %v", name, v, ok, want.budget, want.met)
				}
			}
			var b bytes.Buffer
			r.print(&b)
			if !strings.Contains(b.String(), "budget (issues 12 and 13)") {
				t.Error("the budget table does not say issues 12 and 13")
			}
		})
	}
}

// On a Cluster the harness checks every master before emptying any, and,
// for the stores step, --compare-url too; a refusal names the master and
// deletes nothing. The Cluster is the test's own: the harness empties it.
func TestOpenRedisOnCluster(t *testing.T) {
	cl := testredis.StartCluster(t, 3, 0, 2*time.Second)
	single := testredis.Start(t, "")
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(strings.TrimPrefix(cl.URL, "redis://"), ",")})
	t.Cleanup(func() { _ = cc.Close() })
	sc := redis.NewClient(&redis.Options{Addr: single.Addr, DB: 3})
	t.Cleanup(func() { _ = sc.Close() })
	compare := "redis://" + single.Addr + "/3"

	open := func() (*h, error) {
		x := &h{o: &options{redisURL: cl.URL, compareURL: compare}, logf: t.Logf}
		t.Cleanup(x.cleanup)
		_, err := x.openRedis()
		return x, err
	}
	cc.Set(ctx, "someone:else", "v", 0)
	if _, err := open(); !errors.Is(err, redisinspect.ErrForeignKeys) || !strings.Contains(err.Error(), "on master ") {
		t.Fatalf("openRedis on a Cluster holding a foreign key = %v, want a refusal naming the master", err)
	}
	if cc.Exists(ctx, "someone:else").Val() != 1 {
		t.Fatal("the foreign key was deleted")
	}
	cc.Del(ctx, "someone:else")
	sc.Set(ctx, "someone:else", "v", 0)
	if _, err := open(); !errors.Is(err, redisinspect.ErrForeignKeys) || !strings.Contains(err.Error(), "--compare-url") {
		t.Fatalf("openRedis with a foreign key at --compare-url = %v, want a refusal naming --compare-url", err)
	}
	sc.Del(ctx, "someone:else")
	x, err := open()
	if err != nil {
		t.Fatalf("openRedis on an empty Cluster = %v", err)
	}
	if !x.ins.Cluster() || len(x.ins.Servers()) != 3 || x.cmpIns == nil {
		t.Errorf("inspectors: cluster %v, %d masters, compare %v; want the 3 masters and --compare-url", x.ins.Cluster(), len(x.ins.Servers()), x.cmpIns != nil)
	}
	if got := storeLabel(storeSpec{kind: "cluster", from: "--redis-url", ins: x.ins}); got != "Redis Cluster, 3 masters (--redis-url)" {
		t.Errorf("row label %q does not give the masters", got)
	}
}

// The private master and replica are in sync when startPair returns, and
// gone when the harness cleans up.
func TestStartPairStopsItsServers(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not on PATH")
	}
	x := &h{o: &options{}, tmp: t.TempDir(), logf: t.Logf}
	defer x.cleanup()
	url, skipped, err := x.startPair()
	if err != nil || skipped != "" {
		t.Fatalf("startPair = %q, %q, %v", url, skipped, err)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: opt.Addr, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	if n, err := c.Do(ctx, "WAIT", 1, 1000).Int(); err != nil || n != 1 {
		t.Errorf("WAIT 1 on the private master = %d, %v; want its replica to ack", n, err)
	}
	info := c.Info(ctx, "replication").Val()
	_, rest, _ := strings.Cut(info, "slave0:ip=")
	ip, rest, _ := strings.Cut(rest, ",port=")
	port, _, _ := strings.Cut(rest, ",")
	replica := redis.NewClient(&redis.Options{Addr: ip + ":" + port, MaxRetries: -1})
	defer replica.Close()
	if err := replica.Ping(ctx).Err(); err != nil {
		t.Fatalf("the replica (%s:%s, from %q) does not answer: %v", ip, port, info, err)
	}
	x.cleanup()
	for name, cl := range map[string]*redis.Client{"master": c, "replica": replica} {
		if err := cl.Ping(ctx).Err(); err == nil {
			t.Errorf("the private %s still answers after the clean-up", name)
		}
	}
}
