// Package redisinspect reads Redis' own accounting for dialhook's load
// harness (go run ./bench): INFO commandstats, INFO cpu, INFO server, CLIENT
// LIST and a MONITOR stream, of one Redis server and one database.
//
// It writes nothing but what the harness asks: FlushDB empties the
// harness's database, and only one that is empty or that the harness marked
// as its own, unless told to. It knows none of dialhook's keys (the store
// does) and must not be used by dialhook itself: MONITOR slows down the
// server it watches.
package redisinspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/store/redisurl"
)

// Counts counts Redis commands by lower-case name.
type Counts map[string]float64

// Inspector is a one-connection client of a single Redis: the counts it
// reads are one server's, so a Cluster or a Sentinel group is refused.
type Inspector struct {
	rdb *redis.Client
	opt *redis.Options
}

// Open connects to the Redis named by url (see redisurl.Parse; one address)
// with one connection named name, so that CLIENT LIST tells the caller's
// connection apart (see ClientAddrs). Errors never repeat the URL.
func Open(url, name string) (*Inspector, error) {
	u, err := redisurl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("redisinspect: %w", err)
	}
	if u.Mode != redisurl.Single {
		return nil, fmt.Errorf("redisinspect: a %s URL: the harness measures one Redis server", u.Mode)
	}
	opt := u.Single
	// One connection, open from the start: CLIENT LIST names it before
	// MONITOR starts, so that MONITOR leaves its commands out.
	opt.ClientName, opt.PoolSize, opt.MinIdleConns = name, 1, 1
	return &Inspector{rdb: redis.NewClient(opt), opt: opt}, nil
}

// Close closes the connection.
func (in *Inspector) Close() error { return in.rdb.Close() }

// info reads one INFO section as "key" → "value".
func (in *Inspector) info(ctx context.Context, section string) (map[string]string, error) {
	s, err := in.rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("redisinspect: INFO %s: %w", section, err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

// Version is the server's redis_version.
func (in *Inspector) Version(ctx context.Context) (string, error) {
	f, err := in.info(ctx, "server")
	return f["redis_version"], err
}

// CommandStats reads INFO commandstats: calls by command since the server
// started (or CONFIG RESETSTAT), server-wide, commands run inside scripts
// included.
func (in *Inspector) CommandStats(ctx context.Context) (Counts, error) {
	f, err := in.info(ctx, "commandstats")
	if err != nil {
		return nil, err
	}
	out := Counts{}
	for k, fields := range f {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(fields, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				out[strings.ToLower(name)] = n
			}
		}
	}
	return out, nil
}

// CPU is the CPU time the server has used, all of its threads, system and
// user.
func (in *Inspector) CPU(ctx context.Context) (time.Duration, error) {
	f, err := in.info(ctx, "cpu")
	if err != nil {
		return 0, err
	}
	var t float64
	for _, k := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, _ := strconv.ParseFloat(f[k], 64)
		t += v
	}
	return time.Duration(t * float64(time.Second)), nil
}

// ClientAddrs lists the addresses of the server's connections named name
// (CLIENT SETNAME), as MONITOR shows them.
func (in *Inspector) ClientAddrs(ctx context.Context, name string) ([]string, error) {
	s, err := in.rdb.ClientList(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("redisinspect: CLIENT LIST: %w", err)
	}
	var out []string
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
	return out, nil
}

// ErrForeignKeys is FlushDB's answer for a database that holds keys the
// harness did not write (no marker): nothing was deleted.
var ErrForeignKeys = errors.New("the database holds keys the load harness did not write")

// markerKey marks a database as the harness's own. It is outside every
// dialhook namespace (whose keys all carry the {dh} hash tag).
const markerKey = "dialhook-bench:owner"

const markerValue = "written by dialhook's load harness (go run ./bench), which empties this database at each run"

// flushOwned empties the database when it is empty, carries the marker, or
// ARGV[2] is "1", then writes the marker; atomically, so that no key written
// between the check and the flush is lost unasked.
//
// KEYS[1] the marker; ARGV[1] its value, ARGV[2] "1" to flush in any case.
// Returns -1 when it flushed, else the number of keys (nothing changed).
var flushOwned = redis.NewScript(`
local n = redis.call('DBSIZE')
if n > 0 and ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  return n
end
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[1])
return -1
`)

// FlushDB empties the database for a run and marks it as the harness's:
// at once when it is empty or already marked; when it holds other keys,
// only if force is set, and otherwise it returns an error wrapping
// ErrForeignKeys that says how many keys it holds, and deletes nothing.
func (in *Inspector) FlushDB(ctx context.Context, force bool) error {
	f := "0"
	if force {
		f = "1"
	}
	n, err := flushOwned.Run(ctx, in.rdb, []string{markerKey}, markerValue, f).Int64()
	if err != nil {
		return fmt.Errorf("redisinspect: flush database %d: %w", in.opt.DB, err)
	}
	if n >= 0 {
		keys := "keys"
		if n == 1 {
			keys = "key"
		}
		return fmt.Errorf("%w (%d %s in database %d)", ErrForeignKeys, n, keys, in.opt.DB)
	}
	return nil
}
