package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// oomRecent is how long after an OOM answer Ready keeps failing, unless
// INFO shows memory back under maxmemory.
const oomRecent = 10 * time.Second

// Ready implements Store: Redis answers; a script runs and writes on every
// shard (scripts loaded, each slot's node a writable master: a CROSSSLOT,
// a NOSCRIPT that loading does not cure, or a read-only replica shows
// here, with its reason); and it is not out of memory. INFO tells memory
// use where it is allowed; where it is not (managed Redis may rename it),
// an OOM answer in the last oomRecent counts as full.
func (r *Redis) Ready(ctx context.Context) error {
	if err := r.Ping(ctx); err != nil {
		return err
	}
	if err := r.probe(ctx); err != nil {
		return err
	}
	full, known := r.memoryFull(ctx)
	switch {
	case full != "":
		return fmt.Errorf("%w: %s", ErrFull, full)
	case !known && time.Since(time.Unix(0, r.lastOOM.Load())) < oomRecent:
		return fmt.Errorf("%w: Redis answered OOM (maxmemory reached) in the last %s", ErrFull, oomRecent)
	}
	return nil
}

// memoryFull reads INFO memory of every master and says which one is full,
// if any; known is false when INFO could not be read.
func (r *Redis) memoryFull(ctx context.Context) (full string, known bool) {
	var mu sync.Mutex
	check := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		f := infoFields(info)
		used, _ := strconv.ParseInt(f["used_memory"], 10, 64)
		limit, _ := strconv.ParseInt(f["maxmemory"], 10, 64)
		if limit > 0 && used >= limit && f["maxmemory_policy"] == "noeviction" {
			mu.Lock()
			full = fmt.Sprintf("Redis %s is out of memory (used_memory %d >= maxmemory %d, policy noeviction)", c.Options().Addr, used, limit)
			mu.Unlock()
		}
		return nil
	}
	var err error
	switch c := r.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		return "", false
	}
	return full, err == nil
}

// infoFields parses the "key:value" lines of an INFO answer.
func infoFields(info string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// Check implements Store: it warns when Redis may lose dialhook's data on
// its own — an evicting maxmemory policy drops dedup claims and queued
// events silently; without persistence a restart loses everything. CONFIG
// may be refused (managed Redis): then it says what to verify by hand.
func (r *Redis) Check(ctx context.Context) []string {
	var warn []string
	get := func(name string) (string, error) {
		m, err := r.rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return "", err
		}
		return m[name], nil
	}
	policy, err := get("maxmemory-policy")
	if err != nil {
		return []string{fmt.Sprintf("could not read Redis' configuration (%v): make sure it runs with maxmemory-policy noeviction and persistence (appendonly yes, appendfsync everysec or always)", r.wrap(err))}
	}
	if policy != "noeviction" {
		warn = append(warn, fmt.Sprintf("Redis maxmemory-policy is %q: when memory runs out Redis evicts keys, which can silently drop dedup claims and queued calls; set maxmemory-policy noeviction (dialhook then answers 503 store_full instead)", policy))
	}
	aof, _ := get("appendonly")
	save, _ := get("save")
	fsync, _ := get("appendfsync")
	switch {
	case aof != "yes" && strings.TrimSpace(save) == "":
		warn = append(warn, "Redis persistence is off (appendonly no, no save points): a Redis restart loses every recorded event and queued call; set appendonly yes with appendfsync everysec or always")
	case aof != "yes":
		warn = append(warn, "Redis runs without AOF (appendonly no): a crash loses what was written since the last RDB snapshot, acknowledged events included; set appendonly yes with appendfsync everysec or always")
	case fsync == "no":
		warn = append(warn, "Redis appendfsync is no: the OS decides when the AOF reaches disk, so a crash can lose acknowledged events; set appendfsync everysec or always")
	}
	return warn
}

// probe runs the probe script on every shard.
func (r *Redis) probe(ctx context.Context) error {
	cmds := make([]*redis.Cmd, len(r.k.shards))
	for i, sk := range r.k.shards {
		cmds[i] = evalsha(ctx, probeScript, []string{sk.probe()})
	}
	if err := r.send(ctx, cmds...); err != nil {
		return err
	}
	for i, c := range cmds {
		if err := c.Err(); err != nil {
			return fmt.Errorf("shard %d cannot take a write: %w", i, r.wrap(err))
		}
	}
	return nil
}

// ErrLayout: the store holds data of another layout than this
// configuration's (another number of shards, or the one-slot layout of
// earlier versions).
var ErrLayout = errors.New("store: layout mismatch")

// VerifyLayout checks, once at start-up, that the store was set up with
// the same number of shards (recording it the first time): events are
// placed by shard, and another number would lose every event already
// recorded. It also refuses a Redis holding the one-slot layout of earlier
// versions.
func (r *Redis) VerifyLayout(ctx context.Context) error {
	n, err := r.rdb.Exists(ctx, r.k.legacyQueue()).Result()
	if err != nil {
		return r.wrap(err)
	}
	if n > 0 {
		return fmt.Errorf("%w: this Redis holds dialhook data in the one-slot layout of an earlier version (key %s); "+
			"let its events finish and flush it, or use another namespace or database", ErrLayout, r.k.legacyQueue())
	}
	want := strconv.Itoa(len(r.k.shards))
	if _, err := r.rdb.HSetNX(ctx, r.k.meta(), "shards", want).Result(); err != nil {
		return r.wrap(err)
	}
	got, err := r.rdb.HGet(ctx, r.k.meta(), "shards").Result()
	if err != nil {
		return r.wrap(err)
	}
	if got != want {
		return fmt.Errorf("%w: the store was set up with shards: %s; shards is fixed for the life of a deployment (set shards: %s)",
			ErrLayout, got, got)
	}
	return nil
}
