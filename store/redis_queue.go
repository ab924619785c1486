package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Next implements Store; a block of zero or less does not wait.
func (r *Redis) Next(ctx context.Context, consumer string, shard, count int, block time.Duration) ([]Delivery, error) {
	sk := r.k.shards[shard]
	if block <= 0 {
		block = -1 // go-redis: no BLOCK argument
	}
	res, err := r.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{sk.queue(), ">"}, Count: int64(max(count, 1)), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if redis.HasErrorPrefix(err, "NOGROUP") {
		// Redis lost the stream (restart without persistence): recreate it.
		if gerr := r.ensureGroup(ctx, shard); gerr != nil {
			return nil, gerr
		}
		return nil, nil
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	return toDeliveries(res, consumer), nil
}

func toDeliveries(res []redis.XStream, consumer string) []Delivery {
	var out []Delivery
	for _, s := range res {
		for _, m := range s.Messages {
			id, _ := m.Values["id"].(string)
			agent, _ := m.Values["agent"].(string)
			out = append(out, Delivery{EventID: id, Ref: m.ID, Agent: agent, Consumer: consumer})
		}
	}
	return out
}

// Reclaim implements Store.
func (r *Redis) Reclaim(ctx context.Context, consumer string, shard int, idle time.Duration) ([]Delivery, error) {
	msgs, _, err := r.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: r.k.shards[shard].queue(), Group: group, Consumer: consumer, MinIdle: idle, Start: "0-0", Count: 100,
	}).Result()
	if err != nil {
		return nil, r.wrap(err)
	}
	return toDeliveries([]redis.XStream{{Messages: msgs}}, consumer), nil
}

// Keep implements Store with keepScript (XPENDING and XCLAIM need no
// memory: Redis runs them out of memory too).
func (r *Redis) Keep(ctx context.Context, d Delivery) (bool, error) {
	sk, ok := r.k.of(d.EventID)
	if !ok {
		return false, nil
	}
	n, err := keepScript.Run(ctx, r.rdb, []string{sk.queue()}, group, d.Ref, d.Consumer).Int()
	if err != nil {
		return false, r.wrap(err)
	}
	return n == 1, nil
}

// Begin implements Store, in two steps: first the agent's pacing slot (a
// key of its own, in its own slot of a Cluster), then the begin script on
// the event's shard. A begin that does not dial releases the slot it took.
func (r *Redis) Begin(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (*Event, BeginResult, error) {
	sk, ok := r.k.of(d.EventID)
	if !ok {
		return nil, Skip, nil // not an event of this store: nothing to dial
	}
	for try := 0; ; try++ {
		took, busyUntil, err := r.takeAgent(ctx, d, hold, now)
		if err != nil {
			return nil, Skip, err
		}
		if !busyUntil.IsZero() {
			return r.busy(ctx, sk, d, busyUntil)
		}
		keys := []string{sk.ev(d.EventID), sk.queue(), sk.index(Queued), sk.index(Unknown)}
		cmd := evalsha(ctx, beginScript, keys, d.EventID, d.Ref, d.Token, group, d.Agent)
		if err := r.sendDurable(ctx, cmd); err != nil {
			return nil, Skip, err // the slot is held at most hold, and a retry with this token takes it again
		}
		vals, err := cmd.Slice()
		if err != nil {
			return nil, Skip, r.wrap(err)
		}
		if vals[0] != "dial" && took {
			r.releaseAgent(ctx, d)
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

// takeAgent takes the agent's pacing slot for d's event for hold: took is
// true when this call took it (false when d has no agent, or the event
// held it already: a begin asked again). busyUntil is set when another
// event holds it: until its call ends (polled every busyPoll) or, in the
// agent's gap after a call, until the gap is over.
func (r *Redis) takeAgent(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (bool, time.Time, error) {
	if d.Agent == "" {
		return false, time.Time{}, nil
	}
	key := r.k.agent(d.Agent)
	// Through the batcher: under load the slots of many calls share a
	// round trip (a Cluster pipeline sends each to its slot's master).
	cmd := redis.NewCmd(ctx, "set", key, d.EventID, "nx", "get", "px", max(hold, time.Millisecond).Milliseconds())
	err := r.send(ctx, cmd)
	var old string
	if err == nil {
		old, err = cmd.Text()
	}
	switch {
	case errors.Is(err, redis.Nil):
		return true, time.Time{}, nil
	case err != nil:
		return false, time.Time{}, r.wrap(err)
	case old == d.EventID:
		return false, time.Time{}, nil
	}
	left, err := r.rdb.PTTL(ctx, key).Result()
	if err != nil {
		return false, time.Time{}, r.wrap(err)
	}
	wait := max(left, 50*time.Millisecond)
	if !strings.HasPrefix(old, gapPrefix) {
		wait = min(wait, busyPoll) // a call in flight may end any moment
	}
	return false, now.Add(wait), nil
}

// busyPoll is how often an event waiting for an agent in a call looks again.
const busyPoll = 500 * time.Millisecond

// gapPrefix marks an agent's slot held for its gap after a call.
const gapPrefix = "gap:"

// releaseAgent frees the agent's slot d's event took, if it still holds it.
func (r *Redis) releaseAgent(ctx context.Context, d Delivery) {
	_ = releaseScript.Run(context.WithoutCancel(ctx), r.rdb, []string{r.k.agent(d.Agent)}, d.EventID).Err()
}

// busy puts the event back to wait for its agent until due.
func (r *Redis) busy(ctx context.Context, sk shardKeys, d Delivery, due time.Time) (*Event, BeginResult, error) {
	cmd := evalsha(ctx, busyScript, []string{sk.ev(d.EventID), sk.queue(), sk.due()}, d.EventID, d.Ref, ms(due), group)
	if err := r.send(ctx, cmd); err != nil {
		return nil, Skip, err
	}
	vals, err := cmd.Slice()
	if err != nil {
		return nil, Skip, r.wrap(err)
	}
	e, res, err := beginResult(vals)
	if res == Busy && e != nil {
		e.DueAt = &due
	}
	return e, res, err
}

// beginResult reads the begin and busy scripts' answer.
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
	doc, err := encodeDoc(cur)
	if err != nil {
		return nil, nil, fmt.Errorf("store: encode: %w", err)
	}
	return cur, doc, nil
}

// Finish implements Store. ev is the record Begin answered for d (nil: it
// is read first); the record changes only through Finish while it is
// dialing. The agent's slot is then released, or held for its gap, with
// one command outside the script (it is not the event's key): should the
// call have outlasted the hold, it may shorten another event's slot — a
// pacing glitch, never a second call for one event.
func (r *Redis) Finish(ctx context.Context, d Delivery, ev *Event, out Outcome, now time.Time) (*Event, error) {
	sk, ok := r.k.of(d.EventID)
	if !ok {
		return nil, ErrNotFound
	}
	cur, doc, err := r.changed(ctx, d, ev, func(e *Event) error { apply(e, out, now); return nil })
	if err != nil {
		return nil, err
	}
	var gkey string
	if out.CallGUID != "" {
		gkey = sk.guid(strings.ToLower(out.CallGUID))
	}
	var nkey, ntype string
	if r.notify {
		if ntype = notifyTypeOf(out.State); ntype != "" {
			nkey = sk.nq()
		}
	}
	keys, pos := withOptional([]string{sk.ev(d.EventID), sk.queue(), sk.index(Dialing), sk.index(out.State), sk.due()}, gkey, nkey)
	var due int64
	if !out.DueAt.IsZero() {
		due = ms(out.DueAt)
	}
	cmd := evalsha(ctx, finishScript, keys, append([]any{d.EventID, d.Ref, string(out.State), doc, due, ms(now),
		ms(cur.ReceivedAt.Add(r.retention)), d.Token, group, ms(cur.ReceivedAt)}, append(pos, ntype)...)...)
	state, held, err := r.change(ctx, cmd)
	if err != nil {
		return held, err
	}
	cur.State = state
	r.freeAgent(ctx, d, out)
	if cur.State == Placed {
		r.noteAgentCall(context.WithoutCancel(ctx), cur.Params.Agent, cur.ID)
	}
	return cur, nil
}

// freeAgent ends the event's hold on its agent: gone at once, or kept for
// the agent's gap.
func (r *Redis) freeAgent(ctx context.Context, d Delivery, out Outcome) {
	if out.Agent == "" {
		return
	}
	key := r.k.agent(out.Agent)
	ctx = context.WithoutCancel(ctx)
	cmd := redis.NewCmd(ctx, "del", key)
	if out.MinGap > 0 {
		cmd = redis.NewCmd(ctx, "set", key, gapPrefix+d.EventID, "px", max(out.MinGap, time.Millisecond).Milliseconds())
	}
	_ = r.send(ctx, cmd)
}

// apply writes an outcome onto a record.
func apply(e *Event, out Outcome, now time.Time) {
	e.History = append(e.History, Attempt{At: now, N: e.Attempts, State: out.State, CallGUID: strings.ToLower(out.CallGUID),
		Error: out.Error, ErrorKind: out.ErrorKind})
	if len(e.History) > maxHistory {
		e.History = e.History[len(e.History)-maxHistory:]
	}
	e.State = out.State
	e.UpdatedAt = now
	e.Error, e.ErrorKind = out.Error, out.ErrorKind
	if out.CallGUID != "" {
		e.CallGUID = strings.ToLower(out.CallGUID)
		e.DryRun = out.DryRun
	}
	if out.State == HandedOff {
		e.DialerAnswer, e.DryRun = out.DialerAnswer, out.DryRun
	}
	e.DueAt = nil
	if !out.DueAt.IsZero() {
		t := out.DueAt
		e.DueAt = &t
	}
}

// maxHistory bounds an event's attempt history (the oldest go first).
const maxHistory = 20

// Enriched implements Store.
func (r *Redis) Enriched(ctx context.Context, d Delivery, ev *Event, out Enrichment, now time.Time) (*Event, error) {
	sk, ok := r.k.of(d.EventID)
	if !ok {
		return nil, ErrNotFound
	}
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
	keys := []string{sk.ev(d.EventID), sk.queue(), sk.index(Queued), sk.index(out.State), sk.due()}
	cmd := evalsha(ctx, enrichedScript, keys, d.EventID, d.Ref, string(out.State), doc, cur.Params.Agent, due,
		flag(cur.remappable()), group)
	state, held, err := r.change(ctx, cmd)
	if err != nil {
		return held, err
	}
	cur.State = state
	return cur, nil
}

// change sends a script that changes a record and answers {'ok', state}
// or {'conflict', <recordFields>}: the new state, or the record as it is
// with ErrConflict (ErrNotFound when it is gone), as the memory store does.
func (r *Redis) change(ctx context.Context, cmd *redis.Cmd) (State, *Event, error) {
	if err := r.send(ctx, cmd); err != nil {
		return "", nil, err
	}
	vals, err := cmd.Slice()
	if err != nil {
		return "", nil, r.wrap(err)
	}
	if vals[0] == "conflict" {
		e, derr := decode(vals[1:])
		if errors.Is(derr, ErrNotFound) {
			return "", nil, ErrNotFound
		}
		return "", e, ErrConflict
	}
	return State(vals[1].(string)), nil, nil
}
