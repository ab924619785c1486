package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// promoteBatch bounds the due events Promote moves per shard in one call.
const promoteBatch = 500

// trimEvery is how often Promote also trims the shards' queues and indexes.
const trimEvery = 10 * time.Second

// Promote implements Store: per shard it finds the due events and moves
// each with the promote script (whose keys are that event's); every
// trimEvery it also trims the queues of acknowledged entries and the
// indexes of records past retention.
func (r *Redis) Promote(ctx context.Context, now time.Time) (int, error) {
	pipe := r.rdb.Pipeline()
	due := make([]*redis.StringSliceCmd, len(r.k.shards))
	for i, sk := range r.k.shards {
		due[i] = pipe.ZRangeByScore(ctx, sk.due(), &redis.ZRangeBy{Min: "-inf", Max: msString(now), Count: promoteBatch})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, r.wrap(err)
	}
	var cmds []*redis.Cmd
	for i, c := range due {
		sk := r.k.shards[i]
		for _, id := range c.Val() {
			keys := []string{sk.ev(id), sk.queue(), sk.index(Scheduled), sk.index(Queued), sk.due()}
			cmds = append(cmds, evalsha(ctx, promoteScript, keys, id, ms(now)))
		}
	}
	n := 0
	if len(cmds) > 0 {
		if err := r.send(ctx, cmds...); err != nil {
			return 0, err
		}
		for _, c := range cmds {
			v, err := c.Int()
			if err != nil {
				return n, r.wrap(err)
			}
			n += v
		}
	}
	if last := r.lastTrim.Load(); time.Since(time.Unix(0, last)) >= trimEvery && r.lastTrim.CompareAndSwap(last, time.Now().UnixNano()) {
		r.trim(ctx, now)
	}
	return n, nil
}

// trim drops, per shard, the queue entries every consumer acknowledged
// (entries are acknowledged, not deleted, on the dial path), and the
// records past retention with their index entries.
func (r *Redis) trim(ctx context.Context, now time.Time) {
	pipe := r.rdb.Pipeline()
	groups := make([]*redis.XInfoGroupsCmd, len(r.k.shards))
	pending := make([]*redis.XPendingCmd, len(r.k.shards))
	for i, sk := range r.k.shards {
		groups[i] = pipe.XInfoGroups(ctx, sk.queue())
		pending[i] = pipe.XPending(ctx, sk.queue(), group)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return
	}
	pipe = r.rdb.Pipeline()
	for i, sk := range r.k.shards {
		if min := trimPoint(groups[i].Val(), pending[i].Val()); min != "" {
			pipe.XTrimMinID(ctx, sk.queue(), min)
		}
	}
	_, _ = pipe.Exec(ctx)
	r.trimRequests(ctx, now)
	for range maxForgetRounds {
		if r.forget(ctx, now) < forgetBatch {
			return
		}
	}
}

// Records carry no TTL (an EXPIRE on every accept would cost the ingest
// path a command): forget deletes those received before the retention,
// pastBatch by their index (scored by received time), at most forgetBatch per
// index and shard a round. Trim runs rounds until one finds less than a
// batch anywhere, at most maxForgetRounds every trimEvery.
const (
	forgetBatch     = 1000
	maxForgetRounds = 20
)

// forget deletes one round of records past retention and their index
// entries, and returns the most it pastBatch in one index. A record that
// moved to another index meanwhile is deleted all the same (it is past
// retention too); its entry there goes in that index's round.
func (r *Redis) forget(ctx context.Context, now time.Time) int {
	cut := "(" + strconv.FormatInt(ms(now.Add(-r.retention)), 10)
	var all []pastBatch
	pipe := r.rdb.Pipeline()
	for _, sk := range r.k.shards {
		for _, idx := range indexes() {
			all = append(all, pastBatch{sk, sk.index(idx), pipe.ZRangeByScore(ctx, sk.index(idx),
				&redis.ZRangeBy{Min: "-inf", Max: cut, Count: forgetBatch})})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0
	}
	most := 0
	finds := r.searchMembers(ctx, all)
	pipe = r.rdb.Pipeline()
	for i, f := range all {
		ids := f.ids.Val()
		if len(ids) == 0 {
			continue
		}
		most = max(most, len(ids))
		evs, members := make([]string, len(ids)), make([]any, len(ids))
		for i, id := range ids {
			evs[i], members[i] = f.sk.ev(id), id
			evs = append(evs, f.sk.notifs(id))
		}
		pipe.Del(ctx, evs...) // one slot: the shard's
		pipe.ZRem(ctx, f.idx, members...)
		if len(finds[i]) > 0 {
			pipe.ZRem(ctx, f.sk.find(), finds[i]...)
		}
	}
	if most > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return 0
		}
	}
	return most
}

// pastBatch are the ids one index holds past retention, in one shard.
type pastBatch struct {
	sk  shardKeys
	idx string
	ids *redis.StringSliceCmd
}

// searchMembers reads the search index members of the events in all (per
// entry of all), so that forget removes them with the records.
func (r *Redis) searchMembers(ctx context.Context, all []pastBatch) [][]any {
	out := make([][]any, len(all))
	pipe := r.rdb.Pipeline()
	cmds := make([][]*redis.StringCmd, len(all))
	for i, f := range all {
		for _, id := range f.ids.Val() {
			cmds[i] = append(cmds[i], pipe.HGet(ctx, f.sk.ev(id), fFind))
		}
	}
	if pipe.Len() == 0 {
		return out
	}
	_, _ = pipe.Exec(ctx) // a record without members answers nil
	for i, cs := range cmds {
		for _, c := range cs {
			for _, m := range strings.Split(c.Val(), "\n") {
				if m != "" {
					out[i] = append(out[i], m)
				}
			}
		}
	}
	return out
}

// trimRequests deletes the received requests (the console's copy) of
// events older than inspect.retention, reading the state indexes from where
// the last pass stopped (requestsTrimmed) to the cut, at most forgetBatch
// per index and shard a pass.
func (r *Redis) trimRequests(ctx context.Context, now time.Time) {
	if r.inspectRetention >= r.retention {
		return // the records go with their requests
	}
	// A request is kept for hours: once a minute is soon enough, and spares
	// Redis a read of every index every trimEvery.
	if last := r.requestsPass.Load(); time.Since(time.Unix(0, last)) < time.Minute || !r.requestsPass.CompareAndSwap(last, time.Now().UnixNano()) {
		return
	}
	cut := ms(now.Add(-r.inspectRetention))
	from := r.requestsTrimmed.Load()
	if from == 0 {
		from = ms(now.Add(-r.retention))
	}
	if from >= cut {
		return
	}
	var all []pastBatch
	pipe := r.rdb.Pipeline()
	for _, sk := range r.k.shards {
		for _, idx := range indexes() {
			all = append(all, pastBatch{sk, sk.index(idx), pipe.ZRangeByScore(ctx, sk.index(idx), &redis.ZRangeBy{
				Min: "(" + strconv.FormatInt(from, 10), Max: strconv.FormatInt(cut, 10), Count: forgetBatch})})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return
	}
	next := cut
	pipe = r.rdb.Pipeline()
	for _, f := range all {
		ids := f.ids.Val()
		for _, id := range ids {
			pipe.HDel(ctx, f.sk.ev(id), fReq)
		}
		if len(ids) == forgetBatch {
			// Not read to the cut: the next pass starts at the least of
			// where the full batches stopped.
			last, err := r.rdb.ZScore(ctx, f.idx, ids[len(ids)-1]).Result()
			if err == nil {
				next = min(next, max(int64(last)-1, from+1))
			}
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return
		}
	}
	r.requestsTrimmed.Store(next)
}

// indexes are the state indexes, each once.
func indexes() []State {
	var out []State
	seen := map[State]bool{}
	for _, s := range States {
		if i := indexOf(s); !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// trimPoint is the id before which a queue's entries are all acknowledged:
// the oldest pending entry, else the entry after the last one delivered.
func trimPoint(groups []redis.XInfoGroup, p *redis.XPending) string {
	if p != nil && p.Count > 0 {
		return p.Lower
	}
	for _, g := range groups {
		if g.Name == group && g.LastDeliveredID != "" && g.LastDeliveredID != "0-0" {
			return nextID(g.LastDeliveredID)
		}
	}
	return ""
}

// nextID is the stream id right after id ("ms-seq").
func nextID(id string) string {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '-' {
			seq, err := strconv.ParseUint(id[i+1:], 10, 64)
			if err != nil {
				return ""
			}
			return id[:i+1] + strconv.FormatUint(seq+1, 10)
		}
	}
	return ""
}
