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

// Next implements Store.
func (r *Redis) Next(ctx context.Context, consumer string, block time.Duration) ([]Delivery, error) {
	res, err := r.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{r.k.queue(), ">"}, Count: 1, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if redis.HasErrorPrefix(err, "NOGROUP") {
		// Redis lost the stream (restart without persistence): recreate it.
		if gerr := r.ensureGroup(ctx); gerr != nil {
			return nil, gerr
		}
		return nil, nil
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	return toDeliveries(res), nil
}

func toDeliveries(res []redis.XStream) []Delivery {
	var out []Delivery
	for _, s := range res {
		for _, m := range s.Messages {
			id, _ := m.Values["id"].(string)
			agent, _ := m.Values["agent"].(string)
			out = append(out, Delivery{EventID: id, Ref: m.ID, Agent: agent})
		}
	}
	return out
}

// Reclaim implements Store.
func (r *Redis) Reclaim(ctx context.Context, consumer string, idle time.Duration) ([]Delivery, error) {
	msgs, _, err := r.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: r.k.queue(), Group: group, Consumer: consumer, MinIdle: idle, Start: "0-0", Count: 100,
	}).Result()
	if err != nil {
		return nil, r.wrap(err)
	}
	return toDeliveries([]redis.XStream{{Messages: msgs}}), nil
}

// agentKeys are the pacing slot and waiters set of agent ("", "" for none).
func (r *Redis) agentKeys(agent string) (slot, waiters string) {
	if agent == "" {
		return "", ""
	}
	return r.k.agent(agent), r.k.waiters(agent)
}

// Begin implements Store.
func (r *Redis) Begin(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (*Event, BeginResult, error) {
	for try := 0; ; try++ {
		slot, waiters := r.agentKeys(d.Agent)
		keys, pos := withOptional([]string{r.k.ev(d.EventID), r.k.queue(), r.k.state(Queued), r.k.state(Dialing),
			r.k.state(Unknown), r.k.due()}, slot, waiters)
		cmd := evalsha(ctx, beginScript, keys, append([]any{d.EventID, d.Ref, max(hold.Milliseconds(), 1), ms(now), d.Token,
			group, d.Agent}, pos...)...)
		if err := r.send(ctx, cmd); err != nil {
			return nil, Skip, err
		}
		vals, err := cmd.Slice()
		if err != nil {
			return nil, Skip, r.wrap(err)
		}
		if vals[0] == "agent" && try == 0 {
			// The queue entry named another agent than the record (the
			// enricher found the agent after the event was queued).
			d.Agent, _ = vals[1].(string)
			continue
		}
		return beginResult(vals)
	}
}

// beginResult reads the begin script's answer.
func beginResult(vals []any) (*Event, BeginResult, error) {
	var e *Event
	if len(vals) >= 5 {
		var err error
		if e, err = decode(vals[1:5]); err != nil {
			return nil, Skip, err
		}
	}
	switch vals[0] {
	case "dial":
		return e, Dial, nil
	case "interrupted":
		return e, Interrupted, nil
	case "enrich":
		return e, NeedsEnrich, nil
	case "busy":
		due, _ := strconv.ParseInt(vals[5].(string), 10, 64)
		t := time.UnixMilli(due)
		e.DueAt = &t
		return e, Busy, nil
	case "skip":
		return e, Skip, nil
	}
	return nil, Skip, fmt.Errorf("store: begin: unexpected answer %v", vals[0])
}

// changed is d's record as change leaves it, and its JSON: ev when it is
// d's event (cloned), else d's event read again. change may refuse with an
// error, which changed returns with the record.
func (r *Redis) changed(ctx context.Context, d Delivery, ev *Event, change func(*Event) error) (*Event, []byte, error) {
	cur := ev
	if ev != nil && ev.ID == d.EventID {
		cur = clone(ev)
	} else {
		var err error
		if cur, err = r.Get(ctx, d.EventID); err != nil {
			return nil, nil, err
		}
	}
	if err := change(cur); err != nil {
		return cur, nil, err
	}
	doc, err := json.Marshal(cur)
	if err != nil {
		return nil, nil, fmt.Errorf("store: encode: %w", err)
	}
	return cur, doc, nil
}

// Finish implements Store. ev is the record Begin answered for d (nil: it
// is read first); the record changes only through Finish while it is dialing.
func (r *Redis) Finish(ctx context.Context, d Delivery, ev *Event, out Outcome, now time.Time) (*Event, error) {
	cur, doc, err := r.changed(ctx, d, ev, func(e *Event) error { apply(e, out, now); return nil })
	if err != nil {
		return nil, err
	}
	var gkey string
	if out.CallGUID != "" {
		gkey = r.k.guid(strings.ToLower(out.CallGUID))
	}
	slot, waiters := r.agentKeys(out.Agent)
	keys, pos := withOptional([]string{r.k.ev(d.EventID), r.k.queue(), r.k.state(Dialing), r.k.state(out.State), r.k.due()},
		gkey, slot, waiters)
	var due int64
	if !out.DueAt.IsZero() {
		due = ms(out.DueAt)
	}
	cmd := evalsha(ctx, finishScript, keys, append([]any{d.EventID, d.Ref, string(out.State), doc, due,
		out.MinGap.Milliseconds(), ms(now), r.retention.Milliseconds(), d.Token, group, ms(cur.ReceivedAt)}, pos...)...)
	if err := r.send(ctx, cmd); err != nil {
		return nil, err
	}
	return r.okOrConflict(cmd, cur)
}

// okOrConflict reads the {'ok', state, attempts, dups} or {'conflict',
// <recordFields>} answer of finish and enriched onto cur.
func (r *Redis) okOrConflict(cmd *redis.Cmd, cur *Event) (*Event, error) {
	vals, err := cmd.Slice()
	if err != nil {
		return nil, r.wrap(err)
	}
	if vals[0] == "conflict" {
		e, derr := decode(vals[1:])
		if errors.Is(derr, ErrNotFound) {
			return nil, ErrNotFound
		}
		return e, ErrConflict
	}
	if len(vals) < 4 {
		return nil, fmt.Errorf("store: unexpected answer %v", vals)
	}
	if s, ok := vals[1].(string); ok {
		cur.State = State(s)
	}
	if s, ok := vals[2].(string); ok {
		cur.Attempts, _ = strconv.Atoi(s)
	}
	if s, ok := vals[3].(string); ok {
		cur.Duplicates, _ = strconv.Atoi(s)
	}
	return cur, nil
}

// apply writes an outcome onto a record.
func apply(e *Event, out Outcome, now time.Time) {
	e.State = out.State
	e.UpdatedAt = now
	e.Error, e.ErrorKind = out.Error, out.ErrorKind
	if out.CallGUID != "" {
		e.CallGUID = strings.ToLower(out.CallGUID)
		e.DryRun = out.DryRun
	}
	e.DueAt = nil
	if !out.DueAt.IsZero() {
		t := out.DueAt
		e.DueAt = &t
	}
}

// Enriched implements Store.
func (r *Redis) Enriched(ctx context.Context, d Delivery, ev *Event, out Enrichment, now time.Time) (*Event, error) {
	cur, doc, err := r.changed(ctx, d, ev, func(e *Event) error {
		if e.Enrich == nil {
			return ErrConflict
		}
		applyEnrichment(e, out, now)
		return nil
	})
	if err != nil {
		return cur, err
	}
	var due int64
	if out.State == Queued && !out.DueAt.IsZero() {
		due = ms(out.DueAt)
	}
	keys := []string{r.k.ev(d.EventID), r.k.queue(), r.k.state(Queued), r.k.state(out.State), r.k.due()}
	cmd := evalsha(ctx, enrichedScript, keys, d.EventID, d.Ref, string(out.State), doc, cur.Params.Agent, due,
		flag(cur.remappable()), group)
	if err := r.send(ctx, cmd); err != nil {
		return nil, err
	}
	return r.okOrConflict(cmd, cur)
}

// promoteBatch bounds the due events Promote moves in one call.
const promoteBatch = 500

// Promote implements Store: it finds the due events and moves each with
// the promote script (whose keys are that event's), then trims the state
// indexes of records past retention.
func (r *Redis) Promote(ctx context.Context, now time.Time) (int, error) {
	ids, err := r.rdb.ZRangeByScore(ctx, r.k.due(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(ms(now), 10),
		Count: promoteBatch}).Result()
	if err != nil {
		return 0, r.wrap(err)
	}
	cmds := make([]*redis.Cmd, len(ids))
	for i, id := range ids {
		keys := []string{r.k.ev(id), r.k.queue(), r.k.state(Scheduled), r.k.state(Queued), r.k.due()}
		cmds[i] = evalsha(ctx, promoteScript, keys, id, ms(now))
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
	cut := strconv.FormatInt(ms(now.Add(-r.retention)), 10)
	pipe := r.rdb.Pipeline()
	for _, s := range States {
		pipe.ZRemRangeByScore(ctx, r.k.state(s), "-inf", "("+cut)
	}
	_, _ = pipe.Exec(ctx)
	return n, nil
}
