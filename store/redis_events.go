package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Accept implements Store. Each submission is one call of the accept
// script, atomic on its own, in its shard; the calls of concurrent Accepts
// share pipelines (see the batcher). Before it: the queue's length is
// checked against queue_max (sampled, see queueLength) and a cooldown is
// claimed on its own key (see claimCooldown). A duplicate costs a second
// call (dupScript) that reads the first delivery's record and counts the
// redelivery, and a takeover of a mapping rejection a third.
func (r *Redis) Accept(ctx context.Context, subs []Submission) ([]Accepted, error) {
	cmds := make([]*redis.Cmd, len(subs))
	for i := range subs {
		s := &subs[i]
		r.placeEvent(s)
		if s.Event.State == Queued {
			if full, err := r.queueFull(ctx); err != nil || full {
				return nil, cmp.Or(err, ErrQueueFull)
			}
		}
		if err := r.applyRules(ctx, s); err != nil {
			return nil, err
		}
		if err := r.claimCooldown(ctx, s); err != nil {
			return nil, err
		}
		cmd, err := r.acceptCmd(ctx, *s, "")
		if err != nil {
			return nil, err
		}
		cmds[i] = cmd
	}
	if err := r.sendDurable(ctx, cmds...); err != nil {
		return nil, err
	}
	out := make([]Accepted, len(subs))
	for i, c := range cmds {
		a, err := r.accepted(ctx, subs[i], c)
		if errors.Is(err, ErrFull) {
			// Out of memory the claim could not even be tried: a redelivery
			// of a recorded event is still a duplicate (a read).
			a, err = r.duplicateWhenFull(ctx, subs[i], err)
		}
		if err != nil {
			return nil, err
		}
		if !a.Duplicate && a.Event.State == Queued {
			r.queued(1)
		}
		out[i] = a
	}
	return out, nil
}

// duplicateWhenFull answers, when Redis is out of memory, a submission
// whose dedup key is claimed already as a duplicate of that event (dupScript
// counts it only if memory allows); else the out-of-memory error stands.
// A submission that maps, redelivering an event its mapping rejected,
// would take the claim over (a write): the error stands for it too, so
// the sender tries again instead of being told its fix is a duplicate.
func (r *Redis) duplicateWhenFull(ctx context.Context, s Submission, full error) (Accepted, error) {
	if s.DedupKey == "" {
		return Accepted{}, full
	}
	sk, _ := r.k.of(s.Event.ID)
	old, err := r.rdb.Get(ctx, sk.dedup(s.DedupKey)).Result()
	if err != nil {
		return Accepted{}, full
	}
	dup := evalsha(ctx, dupScript, []string{sk.ev(old)}, flag(!s.Event.remappable()), ms(time.Now()))
	if err := r.send(ctx, dup); err != nil {
		return Accepted{}, full
	}
	dv, err := dup.Slice()
	switch {
	case err == nil && dv[0] == "takeover":
		return Accepted{}, full
	case err != nil || dv[0] != "dup":
		return Accepted{Event: &Event{ID: old, State: Gone}, Duplicate: true}, nil
	}
	e, err := decode(dv[1:])
	if err != nil {
		return Accepted{}, full
	}
	return Accepted{Event: e, Duplicate: true}, nil
}

// placeEvent gives the submission's event an id in its dedup key's shard
// when it has none there (it was not made by NewEventID).
func (r *Redis) placeEvent(s *Submission) {
	key := s.DedupKey
	if key == "" {
		key = s.Event.ID
	}
	if sh, ok := r.k.shardOfID(s.Event.ID); !ok || sh != r.k.shardOf(key) {
		e := *s.Event
		e.ID = r.NewEventID(key)
		s.Event = &e
	}
}

// claimCooldown claims the cooldown of a submission that would be queued
// or scheduled, before its accept script: the claim names the dedup key,
// so a redelivery finds its own claim; a claim held for another event
// suppresses this one. (Its own key spreads over the Cluster; it cannot be
// in the event's script.)
func (r *Redis) claimCooldown(ctx context.Context, s *Submission) error {
	st := s.Event.State
	if s.CooldownKey == "" || s.CooldownTTL <= 0 || (st != Queued && st != Scheduled) {
		return nil
	}
	old, err := r.rdb.SetArgs(ctx, r.k.cool(s.CooldownKey), s.DedupKey, redis.SetArgs{Mode: "NX", Get: true, TTL: s.CooldownTTL}).Result()
	switch {
	case errors.Is(err, redis.Nil), err == nil && old == s.DedupKey:
		return nil
	case err != nil:
		return r.wrap(err)
	}
	e := *s.Event
	e.State, e.DueAt = Suppressed, nil
	s.Event = &e
	return nil
}

// acceptCmd is the accept script's call for one submission; takeover names
// the mapping-rejected event whose claim it may take over.
func (r *Redis) acceptCmd(ctx context.Context, s Submission, takeover string) (*redis.Cmd, error) {
	e := s.Event
	sk, _ := r.k.of(e.ID)
	doc, err := encodeDoc(e)
	if err != nil {
		return nil, err
	}
	var req []byte
	if e.Request != nil {
		if req, err = json.Marshal(e.Request); err != nil {
			return nil, fmt.Errorf("store: encode: %w", err)
		}
	}
	var dedup, old string
	if s.DedupKey != "" {
		dedup = sk.dedup(s.DedupKey)
	}
	if takeover != "" {
		old = sk.ev(takeover)
	}
	keys, pos := withOptional([]string{sk.ev(e.ID), sk.queue(), sk.index(e.State), sk.due(), sk.find()}, dedup, old)
	var due int64
	if e.DueAt != nil {
		due = ms(*e.DueAt)
	}
	flags := ""
	if e.remappable() {
		flags += "m"
	}
	if e.Enrich != nil {
		flags += "e"
	}
	args := []any{e.ID, doc, string(e.State), max(s.DedupTTL.Milliseconds(), 1), ms(e.ReceivedAt), due, e.Params.Agent, flags}
	args = append(append(args, pos...), takeover, req)
	if r.searchIndex {
		for _, t := range searchTerms(e) {
			args = append(args, t+"\x00"+e.ID)
		}
	}
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
		if vals[0] == "new" {
			e := *s.Event
			e.State = State(vals[2].(string))
			e.Supersedes, _ = vals[3].(string)
			return Accepted{Event: &e}, nil
		}
		old, _ := vals[1].(string)
		sk, _ := r.k.of(s.Event.ID)
		dup := evalsha(ctx, dupScript, []string{sk.ev(old)}, flag(!s.Event.remappable()), ms(time.Now()))
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
			return Accepted{Event: &Event{ID: old, State: Gone}, Duplicate: true}, nil
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
		if err := r.sendDurable(ctx, c); err != nil {
			return Accepted{}, err
		}
	}
}

// flag is a boolean hash field or argument as the scripts read it.
func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
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
	if at, err := strconv.ParseInt(field(6), 10, 64); err == nil {
		t := time.UnixMilli(at).UTC()
		e.LastDuplicateAt = &t
	}
	return &e, nil
}

// encodeDoc is the record's doc field: the event as JSON, without what is
// kept in fields of its own (the request).
func encodeDoc(e *Event) ([]byte, error) {
	c := *e
	c.Request, c.Notifications = nil, nil
	doc, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	return doc, nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, id string) (*Event, error) {
	sk, ok := r.k.of(id)
	if !ok {
		// No event of this store has such an id; say so only if the store
		// answers at all (else the answer would hide an outage).
		if err := r.Ping(ctx); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	// The record and, when notifications are on, its attempts: one round
	// trip (one slot).
	pipe := r.rdb.Pipeline()
	rec := pipe.HMGet(ctx, sk.ev(id), slices.Concat(recordFields, []string{fReq})...)
	var notes *redis.StringSliceCmd
	if r.notify {
		notes = pipe.LRange(ctx, sk.notifs(id), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.wrap(err)
	}
	vals := rec.Val()
	e, err := decode(vals[:len(recordFields)])
	if err != nil {
		return nil, err
	}
	if raw, _ := vals[len(recordFields)].(string); raw != "" && time.Since(e.ReceivedAt) <= r.inspectRetention {
		var req Request
		if json.Unmarshal([]byte(raw), &req) == nil {
			e.Request = &req
		}
	}
	if notes != nil {
		e.Notifications = decodeAttempts(notes.Val())
	}
	return e, nil
}

// GetByGUID implements Store: each shard keeps its own GUID index, so all
// are asked at once.
func (r *Redis) GetByGUID(ctx context.Context, guid string) (*Event, error) {
	guid = strings.ToLower(guid)
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(r.k.shards))
	for i, sk := range r.k.shards {
		cmds[i] = pipe.Get(ctx, sk.guid(guid))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.wrap(err)
	}
	for _, c := range cmds {
		if id, err := c.Result(); err == nil {
			return r.Get(ctx, id)
		}
	}
	return nil, ErrNotFound
}

// Lookup implements Store.
func (r *Redis) Lookup(ctx context.Context, dedupKey string) (*Event, error) {
	sk := r.k.shards[r.k.shardOf(dedupKey)]
	id, err := r.rdb.Get(ctx, sk.dedup(dedupKey)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	e, err := r.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return &Event{ID: id, State: Gone}, nil // the record expired, the claim lives on
	}
	return e, err
}

// Redial implements Store. The record is read, the redial appended, and the
// script writes it only if the record did not change in between (else it
// is read again): no redial overwrites a change it did not see.
func (r *Redis) Redial(ctx context.Context, id string, rd Redial) (*Event, error) {
	sk, ok := r.k.of(id)
	if !ok {
		return nil, ErrNotFound
	}
	for try := 0; ; try++ {
		cur, err := r.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		state, attempts := cur.State, strconv.Itoa(cur.Attempts)
		// A placed dry run may be redialed (RedialableEvent): the script
		// checks the state and attempts did not change since this read, so
		// the dry-run flag read with them still holds.
		dryPlaced := flag(cur.State == Placed && cur.DryRun)
		cur.Redials = append(cur.Redials, rd)
		cur.State, cur.UpdatedAt, cur.DueAt = Queued, rd.At, nil
		doc, err := encodeDoc(cur)
		if err != nil {
			return nil, err
		}
		keys := []string{sk.ev(id), sk.index(state), sk.index(Queued), sk.queue()}
		vals, err := redialScript.Run(ctx, r.rdb, keys, id, doc, string(state), attempts, dryPlaced).Slice()
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
