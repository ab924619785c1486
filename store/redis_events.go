package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Accept implements Store. Each submission is one call of the accept
// script, atomic on its own; the calls of concurrent Accepts share one
// pipeline (see the batcher). A duplicate costs a second call (dupScript)
// that reads the first delivery's record and counts the redelivery, and a
// takeover of a mapping rejection a third.
func (r *Redis) Accept(ctx context.Context, subs []Submission) ([]Accepted, error) {
	cmds := make([]*redis.Cmd, len(subs))
	for i, s := range subs {
		cmd, err := r.acceptCmd(ctx, s, "")
		if err != nil {
			return nil, err
		}
		cmds[i] = cmd
	}
	if err := r.send(ctx, cmds...); err != nil {
		return nil, err
	}
	out := make([]Accepted, len(subs))
	for i, c := range cmds {
		a, err := r.accepted(ctx, subs[i], c)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// acceptCmd is the accept script's call for one submission; takeover names
// the mapping-rejected event whose claim it may take over.
func (r *Redis) acceptCmd(ctx context.Context, s Submission, takeover string) (*redis.Cmd, error) {
	e := s.Event
	doc, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	var dedup, cool, old string
	if s.DedupKey != "" {
		dedup = r.k.dedup(s.DedupKey)
	}
	if s.CooldownKey != "" && s.CooldownTTL > 0 {
		cool = r.k.cool(s.CooldownKey)
	}
	if takeover != "" {
		old = r.k.ev(takeover)
	}
	keys, pos := withOptional([]string{r.k.ev(e.ID), r.k.queue(), r.k.state(e.State), r.k.state(Suppressed), r.k.due()}, dedup, cool, old)
	var due int64
	if e.DueAt != nil {
		due = ms(*e.DueAt)
	}
	args := []any{e.ID, doc, string(e.State), max(s.DedupTTL.Milliseconds(), 1), int64(r.retention.Seconds()),
		r.queueMax, ms(e.ReceivedAt), due, max(s.CooldownTTL.Milliseconds(), 1), e.Params.Agent,
		flag(e.remappable()), flag(e.Enrich != nil)}
	args = append(append(args, pos...), takeover)
	return evalsha(ctx, acceptScript, keys, args...), nil
}

// accepted reads the accept script's answer for s, reading the first
// delivery's record for a duplicate and taking its claim over when dupScript
// says so.
func (r *Redis) accepted(ctx context.Context, s Submission, c *redis.Cmd) (Accepted, error) {
	for try := 0; ; try++ {
		vals, err := c.Slice()
		if err != nil {
			return Accepted{}, r.wrap(err)
		}
		switch vals[0] {
		case "full":
			return Accepted{}, ErrQueueFull
		case "new":
			e := *s.Event
			e.State = State(vals[2].(string))
			e.Supersedes, _ = vals[3].(string)
			return Accepted{Event: &e}, nil
		}
		old, _ := vals[1].(string)
		dup := evalsha(ctx, dupScript, []string{r.k.ev(old)}, flag(!s.Event.remappable()))
		if err := r.send(ctx, dup); err != nil {
			return Accepted{}, err
		}
		dv, err := dup.Slice()
		if err != nil {
			return Accepted{}, r.wrap(err)
		}
		switch {
		case dv[0] == "gone":
			// The record expired but the claim lives on: still a duplicate.
			return Accepted{Event: &Event{ID: old, State: Ignored}, Duplicate: true}, nil
		case dv[0] == "dup":
			e, err := decode(dv[1:])
			if err != nil {
				return Accepted{}, err
			}
			return Accepted{Event: e, Duplicate: true}, nil
		case try >= 2:
			// The claim keeps changing hands under us: still a duplicate.
			return Accepted{Event: &Event{ID: old, State: Rejected, ErrorKind: MappingFailed}, Duplicate: true}, nil
		}
		if c, err = r.acceptCmd(ctx, s, old); err != nil {
			return Accepted{}, err
		}
		if err := r.send(ctx, c); err != nil {
			return Accepted{}, err
		}
	}
}

// decode builds an Event from the values of recordFields, in that order
// (missing trailing values count as empty).
func decode(vals []any) (*Event, error) {
	if len(vals) < 4 || vals[0] == nil {
		return nil, ErrNotFound
	}
	field := func(i int) string {
		if i < len(vals) {
			s, _ := vals[i].(string)
			return s
		}
		return ""
	}
	var e Event
	if err := json.Unmarshal([]byte(field(0)), &e); err != nil {
		return nil, fmt.Errorf("store: corrupt record: %w", err)
	}
	if s := field(1); s != "" {
		e.State = State(s)
	}
	e.Attempts, _ = strconv.Atoi(field(2))
	e.Duplicates, _ = strconv.Atoi(field(3))
	e.Supersedes, e.SupersededBy = field(4), field(5)
	return &e, nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, id string) (*Event, error) {
	vals, err := r.rdb.HMGet(ctx, r.k.ev(id), recordFields...).Result()
	if err != nil {
		return nil, r.wrap(err)
	}
	return decode(vals)
}

// Lookup implements Store.
func (r *Redis) Lookup(ctx context.Context, dedupKey string) (*Event, error) {
	id, err := r.rdb.Get(ctx, r.k.dedup(dedupKey)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	e, err := r.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return &Event{ID: id, State: Ignored}, nil // the record expired, the claim lives on
	}
	return e, err
}

// GetByGUID implements Store.
func (r *Redis) GetByGUID(ctx context.Context, guid string) (*Event, error) {
	id, err := r.rdb.Get(ctx, r.k.guid(strings.ToLower(guid))).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	return r.Get(ctx, id)
}

// List implements Store.
func (r *Redis) List(ctx context.Context, state State, limit int) ([]*Event, error) {
	idx := r.k.state(state)
	ids, err := r.rdb.ZRevRange(ctx, idx, 0, int64(limit)-1).Result()
	if err != nil {
		return nil, r.wrap(err)
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, r.k.ev(id), recordFields...)
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, r.wrap(err)
		}
	}
	out := make([]*Event, 0, len(ids))
	var stale []any
	for i, c := range cmds {
		e, err := decode(c.Val())
		if err != nil {
			stale = append(stale, ids[i]) // the record expired: drop it from the index
			continue
		}
		out = append(out, e)
	}
	if len(stale) > 0 {
		r.rdb.ZRem(ctx, idx, stale...)
	}
	return out, nil
}

// Redial implements Store. The record is read, the redial appended, and the
// script writes it only if the record did not change in between (else it
// is read again): no redial overwrites a change it did not see.
func (r *Redis) Redial(ctx context.Context, id string, rd Redial) (*Event, error) {
	for try := 0; ; try++ {
		cur, err := r.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		state, attempts := cur.State, strconv.Itoa(cur.Attempts)
		cur.Redials = append(cur.Redials, rd)
		cur.State, cur.UpdatedAt, cur.DueAt = Queued, rd.At, nil
		doc, err := json.Marshal(cur)
		if err != nil {
			return nil, fmt.Errorf("store: encode: %w", err)
		}
		keys := []string{r.k.ev(id), r.k.state(state), r.k.state(Queued), r.k.queue()}
		vals, err := redialScript.Run(ctx, r.rdb, keys, id, doc, string(state), attempts).Slice()
		if err != nil {
			return nil, r.wrap(err)
		}
		switch vals[0] {
		case "missing":
			return nil, ErrNotFound
		case "changed":
			if try < 5 {
				continue
			}
			return nil, fmt.Errorf("store: redial: the event keeps changing: %w", ErrConflict)
		case "mapping_failed":
			e, _ := decode(vals[1:])
			return e, ErrNotRedialable
		case "conflict":
			e, _ := decode(vals[1:])
			return e, ErrConflict
		}
		return decode(vals[1:])
	}
}

// Stats implements Store.
func (r *Redis) Stats(ctx context.Context, now time.Time) (Stats, error) {
	pipe := r.rdb.Pipeline()
	depth := pipe.XLen(ctx, r.k.queue())
	first := pipe.XRangeN(ctx, r.k.queue(), "-", "+", 1)
	due := pipe.ZCard(ctx, r.k.due())
	counts := make(map[State]*redis.IntCmd, len(States))
	for _, s := range States {
		counts[s] = pipe.ZCard(ctx, r.k.state(s))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Stats{}, r.wrap(err)
	}
	st := Stats{QueueDepth: depth.Val(), Scheduled: due.Val(), ByState: map[State]int64{}}
	if msgs := first.Val(); len(msgs) > 0 {
		if t, err := strconv.ParseInt(strings.SplitN(msgs[0].ID, "-", 2)[0], 10, 64); err == nil {
			st.OldestPending = max(now.Sub(time.UnixMilli(t)), 0)
		}
	}
	for s, c := range counts {
		st.ByState[s] = c.Val()
	}
	return st, nil
}
