package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ Inspector = (*Redis)(nil)

// Search implements Inspector: the event id and the GUID are looked up
// directly; destination, record id and dedup key through each shard's
// search index (a lexical sorted set, members "kind:value\x00id", kept by
// the accept script).
func (r *Redis) Search(ctx context.Context, q string, limit int) ([]*Event, error) {
	q = strings.TrimSpace(q)
	if q == "" || limit <= 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []*Event
	add := func(e *Event) {
		if e != nil && !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	if _, isID := r.k.of(q); isID { // else Get would only ping
		if e, err := r.Get(ctx, q); err == nil {
			add(e)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if e, err := r.GetByGUID(ctx, q); err == nil {
		add(e)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	ids, err := r.searchIndexes(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	evs, err := r.records(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		add(e)
	}
	sortNewest(out)
	return out[:min(len(out), limit)], nil
}

// searchIndexes reads every shard's search index for q's terms.
func (r *Redis) searchIndexes(ctx context.Context, q string, limit int) ([]string, error) {
	pipe := r.rdb.Pipeline()
	var cmds []*redis.StringSliceCmd
	for _, sk := range r.k.shards {
		for t, whole := range queryTerms(q) {
			min, max := "["+t, "["+t+"\xff"
			if whole {
				min, max = "["+t+"\x00", "["+t+"\x00\xff"
			}
			cmds = append(cmds, pipe.ZRangeByLex(ctx, sk.find(), &redis.ZRangeBy{Min: min, Max: max, Count: int64(limit)}))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.wrap(err)
	}
	var ids []string
	for _, c := range cmds {
		for _, m := range c.Val() {
			if _, id, ok := strings.Cut(m, "\x00"); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// Record implements Inspector: per source, the refusals go at the head of
// a capped list and the counts into hourly fields of a hash; both expire
// when the source falls silent. Written off the webhook path, in one
// pipeline.
func (r *Redis) Record(ctx context.Context, a Activity) error {
	hour := strconv.FormatInt(a.At.Unix()/3600, 10)
	pipe := r.rdb.Pipeline()
	for src, n := range a.Accepted {
		act := r.k.activity(src)
		pipe.HIncrBy(ctx, act, "a:"+hour, int64(n))
		pipe.HSet(ctx, act, "la", ms(a.At))
		pipe.Expire(ctx, act, activityFor)
		pipe.SAdd(ctx, r.k.sources(), src)
	}
	bySource := map[string][]any{}
	for _, rf := range a.Refusals {
		doc, err := json.Marshal(rf)
		if err != nil {
			continue
		}
		bySource[rf.Source] = append(bySource[rf.Source], doc)
		act := r.k.activity(rf.Source)
		pipe.HIncrBy(ctx, act, "r:"+strconv.FormatInt(rf.At.Unix()/3600, 10), 1)
		pipe.HSet(ctx, act, "lr", ms(rf.At))
		pipe.Expire(ctx, act, activityFor)
	}
	for src, docs := range bySource {
		key := r.k.refused(src)
		pipe.LPush(ctx, key, docs...)
		pipe.LTrim(ctx, key, 0, RefusedMax-1)
		pipe.Expire(ctx, key, RefusedFor)
		pipe.SAdd(ctx, r.k.sources(), src)
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return r.wrap(err)
}

// Refused implements Inspector.
func (r *Redis) Refused(ctx context.Context, source string, limit int) ([]Refusal, error) {
	if limit <= 0 {
		return nil, nil
	}
	srcs := []string{source}
	if source == "" {
		var err error
		if srcs, err = r.rdb.SMembers(ctx, r.k.sources()).Result(); err != nil {
			return nil, r.wrap(err)
		}
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(srcs))
	for i, s := range srcs {
		cmds[i] = pipe.LRange(ctx, r.k.refused(s), 0, int64(limit)-1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.wrap(err)
	}
	cut := time.Now().Add(-RefusedFor)
	var out []Refusal
	for _, c := range cmds {
		for _, doc := range c.Val() {
			var rf Refusal
			if json.Unmarshal([]byte(doc), &rf) == nil && rf.At.After(cut) {
				out = append(out, rf)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Refusal) int { return b.At.Compare(a.At) })
	return out[:min(len(out), limit)], nil
}

// Activity implements Inspector.
func (r *Redis) Activity(ctx context.Context, sources []string, now time.Time) (map[string]SourceActivity, error) {
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(sources))
	for i, s := range sources {
		cmds[i] = pipe.HGetAll(ctx, r.k.activity(s))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.wrap(err)
	}
	from := activityFrom(now)
	out := make(map[string]SourceActivity, len(sources))
	for i, s := range sources {
		var sa SourceActivity
		for f, v := range cmds[i].Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			kind, h, _ := strings.Cut(f, ":")
			hour, _ := strconv.ParseInt(h, 10, 64)
			switch {
			case f == "la":
				sa.LastAccepted = time.UnixMilli(n).UTC()
			case f == "lr":
				sa.LastRefused = time.UnixMilli(n).UTC()
			case hour <= from:
			case kind == "a":
				sa.Accepted += int(n)
			case kind == "r":
				sa.Refused += int(n)
			}
		}
		out[s] = sa
	}
	return out, nil
}

// Health implements Inspector: a timed PING, and the queues' consumers
// (XINFO CONSUMERS of every shard, merged by name).
func (r *Redis) Health(ctx context.Context) Health {
	h := Health{Kind: r.kind()}
	start := time.Now()
	if err := r.Ping(ctx); err != nil {
		h.Error = err.Error()
		return h
	}
	h.Reachable, h.Latency = true, time.Since(start)
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.XInfoConsumersCmd, len(r.k.shards))
	for i, sk := range r.k.shards {
		cmds[i] = pipe.XInfoConsumers(ctx, sk.queue(), group)
	}
	_, _ = pipe.Exec(ctx) // a shard never read has no stream yet: skipped below
	byName := map[string]*Consumer{}
	now := time.Now()
	for _, c := range cmds {
		for _, ci := range c.Val() {
			k := byName[ci.Name]
			if k == nil {
				k = &Consumer{Name: ci.Name, Idle: ci.Idle}
				byName[ci.Name] = k
			}
			k.Pending += ci.Pending
			k.Shards++
			k.Idle = min(k.Idle, ci.Idle)
		}
	}
	for _, k := range byName {
		k.LastSeen = now.Add(-k.Idle).UTC()
		h.Consumers = append(h.Consumers, *k)
	}
	slices.SortFunc(h.Consumers, func(a, b Consumer) int { return strings.Compare(a.Name, b.Name) })
	return h
}

// kind names the Redis deployment for the console.
func (r *Redis) kind() string {
	if r.mode != "" {
		return r.mode
	}
	if _, ok := r.rdb.(*redis.ClusterClient); ok {
		return "redis cluster"
	}
	return "redis"
}
