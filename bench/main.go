// Command bench is dialhook's load harness. In one run it builds dialhook,
// starts it on a real Redis with an in-process fake uContact AgentCall
// server, starts a bare Echo server (reads the body, answers 202) beside it,
// drives both with the same keep-alive load generator and unique events,
// and prints one table (and JSON with --out): ingest, latency at fixed
// rates, end to end placed calls/s, a duplicate storm, Redis commands per
// event and per call, peak RSS and goroutines, then ingest on each kind of
// store (one Redis, a Cluster, durability local and replicated) in the
// same run.
//
//	go run ./bench [--source generic] [--duration 20s] [--out bench.json]
//	go run ./bench --redis-url redis://h1:p1,h2:p2,h3:p3   # on a Redis Cluster
//
// It empties the Redis database of --redis-url first (on a Cluster, every
// master), but only one that is empty or that it marked as its own at an
// earlier run; a database holding other keys needs --flush. It is not a
// test: `go test ./...` does not run it.
//
// One file per step: ingest.go, latency.go, endtoend.go, storm.go, redis.go
// (Redis accounting), stores.go (with pair.go, the private master and
// replica it starts) and report.go; run.go starts the servers and runs the
// steps in order.
//
// It must not: spell a Redis key (it asks store and store/redisinspect),
// import Echo (its baseline is handlers.Baseline), or run as part of go test.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type options struct {
	redisURL       string
	compareURL     string
	flush          bool
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

const usage = `usage: go run ./bench [flags]

dialhook's load harness: builds dialhook, runs it on a real Redis against a
fake uContact, beside a bare Echo server, and prints the figures.

--redis-url names one Redis (redis://host:port/db) or a Redis Cluster
(redis://h1:p1,h2:p2,h3:p3, or ?cluster=true): the whole run happens there,
with Redis' figures summed over the Cluster's masters.

The last step, "stores", measures closed-loop ingest (accepted/s and p99 of
the accepted requests, --ingest-workers for --ingest-duration each) with a
dialhook of its own on each store, in the same run: one Redis (--redis-url
when it is one server, else --compare-url), the same with the console off
(DIALHOOK_CONSOLE=false: what the console's storage costs per webhook), the
Cluster (when --redis-url is one), and durability local then replicated on a
private master with one replica started from redis-server on PATH (loopback
ports, a temporary directory, stopped when the harness ends).

It empties the Redis database of --redis-url (and of --compare-url when it
uses it) before the run: on a Cluster every master. It does so without
asking only when the database is empty or carries the marker the harness
left there at an earlier run; a database that holds other keys is left alone
(exit 1) unless --flush is given.

`

func parseFlags() (*options, error) {
	o := &options{}
	var workers, rates string
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	flag.StringVar(&o.redisURL, "redis-url", "redis://127.0.0.1:6379/15", "Redis for dialhook: one server, or a Cluster (redis://h1:p1,h2:p2,h3:p3); its database is emptied first (see --flush)")
	flag.StringVar(&o.compareURL, "compare-url", "redis://127.0.0.1:6379/15", "one Redis for the stores step's single-server row when --redis-url is a Cluster; emptied like --redis-url")
	flag.BoolVar(&o.flush, "flush", false, "empty the --redis-url (and --compare-url) database even when it holds keys the harness did not write")
	flag.StringVar(&o.source, "source", "generic", "sender to simulate, with its sample body from internal/samples: "+profileNames())
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
