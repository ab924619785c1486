package store

import (
	"context"
	"errors"
	"strconv"
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
// (entries are acknowledged, not deleted, on the dial path) and the index
// entries of records past retention.
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
	cut := "(" + strconv.FormatInt(ms(now.Add(-r.retention)), 10)
	pipe = r.rdb.Pipeline()
	for i, sk := range r.k.shards {
		if min := trimPoint(groups[i].Val(), pending[i].Val()); min != "" {
			pipe.XTrimMinID(ctx, sk.queue(), min)
		}
		for _, s := range States {
			if s != Dialing {
				pipe.ZRemRangeByScore(ctx, sk.index(s), "-inf", cut)
			}
		}
	}
	_, _ = pipe.Exec(ctx)
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
