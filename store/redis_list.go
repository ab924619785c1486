package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// cursor is a position in a listing: the received time (ms) and id of the
// last event shown. Events are listed by received time, then id, both
// descending; a page starts after its cursor.
type cursor struct {
	ms int64
	id string
}

func (c cursor) String() string { return strconv.FormatInt(c.ms, 10) + "-" + c.id }

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{ms: 1<<62 - 1}, nil
	}
	n, id, ok := strings.Cut(s, "-")
	v, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || id == "" {
		return cursor{}, fmt.Errorf("%w: bad cursor %q", ErrBadCursor, s)
	}
	return cursor{ms: v, id: id}, nil
}

// ErrBadCursor: a listing's cursor is not one a page gave.
var ErrBadCursor = errors.New("store: bad cursor")

// before reports whether (ms, id) comes after c in a listing.
func (c cursor) before(ms int64, id string) bool { return ms < c.ms || (ms == c.ms && id < c.id) }

// maxListScan bounds how many batches of index entries one page reads
// when it filters (queued, dialing and placed share an index).
const maxListScan = 10

// List implements Store: each shard's index is read from the cursor on,
// the shards' entries are merged newest first, and the records read. The
// live index holds queued, dialing and placed events: a listing of one of
// them reads on until the page is full or it has read maxListScan batches;
// then the page may hold fewer events than asked (even none) and its Next
// goes on from where it stopped.
func (r *Redis) List(ctx context.Context, q ListQuery) (Page, error) {
	c, err := parseCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	var out []*Event
	idx := []State{indexOf(q.State)}
	if q.State == "" {
		idx = indexes()
	}
	for scan := 0; scan < maxListScan; scan++ {
		ids, scores, err := r.listIndex(ctx, idx, c, q.Limit)
		if err != nil {
			return Page{}, err
		}
		evs, err := r.records(ctx, ids)
		if err != nil {
			return Page{}, err
		}
		for i, e := range evs {
			c = cursor{ms: scores[i], id: ids[i]}
			if e != nil && q.matches(e) {
				out = append(out, e)
				if len(out) == q.Limit {
					return Page{Events: out, Next: c.String()}, nil
				}
			}
		}
		if len(ids) < q.Limit {
			return Page{Events: out}, nil // the index is read to its end
		}
	}
	return Page{Events: out, Next: c.String()}, nil
}

// listIndex returns the next limit entries of the indexes idx after c,
// across shards, newest first.
func (r *Redis) listIndex(ctx context.Context, idx []State, c cursor, limit int) ([]string, []int64, error) {
	pipe := r.rdb.Pipeline()
	var cmds []*redis.ZSliceCmd
	max := strconv.FormatInt(c.ms, 10)
	for _, sk := range r.k.shards {
		for _, st := range idx {
			// The cursor's own millisecond too: ties are cut by id below.
			cmds = append(cmds, pipe.ZRevRangeByScoreWithScores(ctx, sk.index(st), &redis.ZRangeBy{Max: max, Min: "-inf", Count: int64(limit) + 64}))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, r.wrap(err)
	}
	var all []redis.Z
	for _, cmd := range cmds {
		for _, z := range cmd.Val() {
			if id, _ := z.Member.(string); c.before(int64(z.Score), id) {
				all = append(all, z)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Score != all[j].Score {
			return all[i].Score > all[j].Score
		}
		return all[i].Member.(string) > all[j].Member.(string)
	})
	all = all[:min(len(all), limit)]
	ids, scores := make([]string, len(all)), make([]int64, len(all))
	for i, z := range all {
		ids[i], scores[i] = z.Member.(string), int64(z.Score)
	}
	return ids, scores, nil
}

// records reads the records of ids; nil for one that is gone (deleted
// past retention while the listing read its index).
func (r *Redis) records(ctx context.Context, ids []string) ([]*Event, error) {
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		sk, _ := r.k.of(id)
		cmds[i] = pipe.HMGet(ctx, sk.ev(id), recordFields...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.wrap(err)
	}
	out := make([]*Event, len(ids))
	for i, c := range cmds {
		if e, err := decode(c.Val()); err == nil {
			out[i] = e
		}
	}
	return out, nil
}

// Stats implements Store. Queued, dialing and placed events share one
// index (live): dialing ones are the queues' entries read and not yet
// acknowledged, queued ones the entries not yet read plus the queued
// events waiting in the due set (for their agent or a retry), and placed
// ones the rest of the live index.
func (r *Redis) Stats(ctx context.Context, now time.Time) (Stats, error) {
	pipe := r.rdb.Pipeline()
	type shardCmds struct {
		groups *redis.XInfoGroupsCmd
		due    *redis.IntCmd
		first  *redis.XMessageSliceCmd
		idx    map[State]*redis.IntCmd
	}
	cmds := make([]shardCmds, len(r.k.shards))
	for i, sk := range r.k.shards {
		c := shardCmds{groups: pipe.XInfoGroups(ctx, sk.queue()), due: pipe.ZCard(ctx, sk.due()),
			first: pipe.XRangeN(ctx, sk.queue(), "-", "+", 1), idx: map[State]*redis.IntCmd{}}
		for _, s := range States {
			c.idx[indexOf(s)] = pipe.ZCard(ctx, sk.index(s))
		}
		cmds[i] = c
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !noSuchKey(err) {
		return Stats{}, r.wrap(err)
	}
	st := Stats{ByState: map[State]int64{}}
	for _, c := range cmds {
		depth, inFlight := groupDepth(c.groups.Val())
		st.QueueDepth += depth
		st.Scheduled += c.due.Val()
		queued := depth - inFlight + max(c.due.Val()-c.idx[Scheduled].Val(), 0)
		st.ByState[Queued] += queued
		st.ByState[Dialing] += inFlight
		for s, n := range c.idx {
			if s == liveIndex {
				st.ByState[Placed] += max(n.Val()-queued-inFlight, 0)
			} else {
				st.ByState[s] += n.Val()
			}
		}
		if msgs := c.first.Val(); len(msgs) > 0 && depth > 0 {
			if t, err := strconv.ParseInt(strings.SplitN(msgs[0].ID, "-", 2)[0], 10, 64); err == nil {
				st.OldestPending = max(st.OldestPending, now.Sub(time.UnixMilli(t)))
			}
		}
	}
	return st, nil
}

// groupDepth is a queue's entries not yet acknowledged (read or not) and,
// of them, those read: the consumer group's lag plus its pending entries.
func groupDepth(groups []redis.XInfoGroup) (depth, read int64) {
	for _, g := range groups {
		if g.Name == group {
			return max(g.Lag, 0) + g.Pending, g.Pending
		}
	}
	return 0, 0
}

// depthNow is the queues' entries not yet acknowledged, now.
func (r *Redis) depthNow(ctx context.Context) (int64, error) {
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.XInfoGroupsCmd, len(r.k.shards))
	for i, sk := range r.k.shards {
		cmds[i] = pipe.XInfoGroups(ctx, sk.queue())
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !noSuchKey(err) {
		return 0, r.wrap(err)
	}
	var n int64
	for _, c := range cmds {
		if noSuchKey(c.Err()) {
			continue // the stream is gone (a Redis that lost its data): Next makes it again
		}
		if err := c.Err(); err != nil {
			return 0, r.wrap(err)
		}
		d, _ := groupDepth(c.Val())
		n += d
	}
	return n, nil
}

// noSuchKey reports Redis' answer to XINFO on a stream that does not exist.
func noSuchKey(err error) bool { return redis.HasErrorPrefix(err, "no such key") }
