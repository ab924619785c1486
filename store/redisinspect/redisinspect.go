// Package redisinspect reads Redis' own accounting for dialhook's load
// harness (go run ./bench): INFO commandstats, INFO cpu, INFO server, CLIENT
// LIST and a MONITOR stream, of one Redis server and one database, or of
// every master of a Redis Cluster (figures summed over the masters).
//
// It writes nothing but what the harness asks: FlushDB empties the
// harness's database, and only one that is empty or that the harness marked
// as its own, unless told to; on a Cluster it checks every master before it
// empties any. It knows none of dialhook's keys (the store does) and must
// not be used by dialhook itself: MONITOR slows down the server it watches.
package redisinspect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/store/redisurl"
)

// Counts counts Redis commands by lower-case name.
type Counts map[string]float64

// Inspector holds one connection to each server it reads: the one Redis of
// a single-server URL, or every master of a Cluster, found when it opens
// (a failover during a run is not followed). A Sentinel group is refused.
type Inspector struct {
	nodes   []*node
	cluster bool
}

// node is one server the inspector reads.
type node struct {
	rdb    *redis.Client
	opt    *redis.Options
	marker string // the harness's marker key, in a slot this server holds
}

// Open connects to the Redis named by url (see redisurl.Parse): one server,
// or every master of a Cluster, with one connection each named name, so
// that CLIENT LIST tells the caller's connections apart (see ClientAddrs).
// Errors never repeat the URL.
func Open(ctx context.Context, url, name string) (*Inspector, error) {
	u, err := redisurl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("redisinspect: %w", err)
	}
	var in *Inspector
	switch u.Mode {
	case redisurl.Single:
		in = &Inspector{nodes: []*node{{opt: u.Single, marker: markerKey}}}
	case redisurl.Cluster:
		if in, err = openCluster(ctx, u.Cluster); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("redisinspect: a %s URL: the harness measures one Redis server or a Cluster's masters", u.Mode)
	}
	for _, n := range in.nodes {
		// One connection, open from the start: CLIENT LIST names it before
		// MONITOR starts, so that MONITOR leaves its commands out.
		n.opt.ClientName, n.opt.PoolSize, n.opt.MinIdleConns = name, 1, 1
		n.rdb = redis.NewClient(n.opt)
	}
	return in, nil
}

// Cluster says whether the inspector reads the masters of a Cluster.
func (in *Inspector) Cluster() bool { return in.cluster }

// Servers lists the addresses of the servers the inspector reads: the one
// server, or the masters of the Cluster.
func (in *Inspector) Servers() []string {
	out := make([]string, len(in.nodes))
	for i, n := range in.nodes {
		out[i] = n.opt.Addr
	}
	return out
}

// Close closes the connections.
func (in *Inspector) Close() error {
	var first error
	for _, n := range in.nodes {
		if n.rdb == nil {
			continue
		}
		if err := n.rdb.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// info reads one INFO section of one server as "key" → "value".
func (n *node) info(ctx context.Context, section string) (map[string]string, error) {
	s, err := n.rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("redisinspect: INFO %s of %s: %w", section, n.opt.Addr, err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

// Version is the servers' redis_version; when the masters of a Cluster run
// different versions, each of them, separated by "/".
func (in *Inspector) Version(ctx context.Context) (string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range in.nodes {
		f, err := n.info(ctx, "server")
		if err != nil {
			return strings.Join(out, "/"), err
		}
		if v := f["redis_version"]; !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return strings.Join(out, "/"), nil
}

// CommandStats reads INFO commandstats: calls by command since the server
// started (or CONFIG RESETSTAT), server-wide, commands run inside scripts
// included; summed over the masters of a Cluster.
func (in *Inspector) CommandStats(ctx context.Context) (Counts, error) {
	out := Counts{}
	for _, n := range in.nodes {
		f, err := n.info(ctx, "commandstats")
		if err != nil {
			return nil, err
		}
		for k, fields := range f {
			name, ok := strings.CutPrefix(k, "cmdstat_")
			if !ok {
				continue
			}
			for _, kv := range strings.Split(fields, ",") {
				if v, ok := strings.CutPrefix(kv, "calls="); ok {
					c, _ := strconv.ParseFloat(v, 64)
					out[strings.ToLower(name)] += c
				}
			}
		}
	}
	return out, nil
}

// CPU is the CPU time the server has used, all of its threads, system and
// user; summed over the masters of a Cluster.
func (in *Inspector) CPU(ctx context.Context) (time.Duration, error) {
	var t float64
	for _, n := range in.nodes {
		f, err := n.info(ctx, "cpu")
		if err != nil {
			return 0, err
		}
		for _, k := range []string{"used_cpu_sys", "used_cpu_user"} {
			v, _ := strconv.ParseFloat(f[k], 64)
			t += v
		}
	}
	return time.Duration(t * float64(time.Second)), nil
}

// ClientAddrs lists the addresses of the connections named name (CLIENT
// SETNAME) of every server read, as MONITOR shows them.
func (in *Inspector) ClientAddrs(ctx context.Context, name string) ([]string, error) {
	var out []string
	for _, nd := range in.nodes {
		s, err := nd.rdb.ClientList(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("redisinspect: CLIENT LIST of %s: %w", nd.opt.Addr, err)
		}
		for _, line := range strings.Split(s, "\n") {
			var addr, n string
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "addr="); ok {
					addr = v
				}
				if v, ok := strings.CutPrefix(f, "name="); ok {
					n = v
				}
			}
			if n == name && addr != "" {
				out = append(out, addr)
			}
		}
	}
	return out, nil
}

// Replicas counts the replicas online (INFO replication) of the servers
// read: of the one server, or of every master of a Cluster.
func (in *Inspector) Replicas(ctx context.Context) (int, error) {
	total := 0
	for _, n := range in.nodes {
		f, err := n.info(ctx, "replication")
		if err != nil {
			return total, err
		}
		for k, v := range f {
			if strings.HasPrefix(k, "slave") && strings.Contains(v, "state=online") {
				total++
			}
		}
	}
	return total, nil
}
