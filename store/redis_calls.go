package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RecordCallEvent implements Store: the delivery is claimed (SET NX on a
// key of its own), the event found by its GUID index (or, for
// AgentRingNoAnswer, the agent's last placed call), and the record
// rewritten by callScript if it did not change since it was read (else it
// is read again).
func (r *Redis) RecordCallEvent(ctx context.Context, ce CallEvent) (*Event, CallResult, error) {
	if ce.DedupKey != "" {
		ok, err := r.rdb.SetNX(ctx, r.k.callEvent(ce.DedupKey), 1, max(ce.DedupTTL, time.Minute)).Result()
		if err != nil {
			return nil, "", r.wrap(err)
		}
		if !ok {
			return nil, CallDuplicate, nil
		}
	}
	id, err := r.callEventID(ctx, ce)
	if err != nil || id == "" {
		return nil, CallUnmatched, err
	}
	sk, ok := r.k.of(id)
	if !ok {
		return nil, CallUnmatched, nil
	}
	for try := 0; try < 5; try++ {
		cur, ver, err := r.getVersioned(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, CallUnmatched, nil
		}
		if err != nil {
			return nil, "", err
		}
		was := cur.State
		state, requeue, res, ok := applyCall(cur, ce)
		if !ok {
			return cur, res, nil
		}
		cur.State = state
		doc, err := encodeDoc(cur)
		if err != nil {
			return nil, "", err
		}
		keys := []string{sk.ev(id), sk.index(was), sk.index(state), sk.queue(), sk.nq()}
		var ntype string
		if r.notify {
			ntype = notifyTypeOfCall(res)
		}
		v, err := callScript.Run(ctx, r.rdb, keys, id, doc, string(was), ver, string(state), flag(requeue), ntype).Text()
		switch {
		case err != nil:
			return nil, "", r.wrap(err)
		case v == "missing":
			return nil, CallUnmatched, nil
		case v == "ok":
			return cur, res, nil
		}
	}
	return nil, "", fmt.Errorf("store: call event: the event keeps changing: %w", ErrConflict)
}

// callEventID finds the event a call event is about ("" when none).
func (r *Redis) callEventID(ctx context.Context, ce CallEvent) (string, error) {
	if ce.Kind == CallAgentNoAnswer {
		id, err := r.rdb.Get(ctx, r.k.agentLast(ce.Agent)).Result()
		if errors.Is(err, redis.Nil) {
			return "", nil
		}
		return id, r.wrap(err)
	}
	guid := strings.ToLower(ce.GUID)
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(r.k.shards))
	for i, sk := range r.k.shards {
		cmds[i] = pipe.Get(ctx, sk.guid(guid))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", r.wrap(err)
	}
	for _, c := range cmds {
		if id, err := c.Result(); err == nil {
			return id, nil
		}
	}
	return "", nil
}

// getVersioned reads a record with its version (fVer: the call events'
// rewrites so far), which callScript checks.
func (r *Redis) getVersioned(ctx context.Context, id string) (*Event, string, error) {
	sk, _ := r.k.of(id)
	vals, err := r.rdb.HMGet(ctx, sk.ev(id), slices.Concat(recordFields, []string{fVer})...).Result()
	if err != nil {
		return nil, "", r.wrap(err)
	}
	e, err := decode(vals[:len(recordFields)])
	if err != nil {
		return nil, "", err
	}
	ver, _ := vals[len(recordFields)].(string)
	if _, err := strconv.Atoi(ver); err != nil {
		ver = "0"
	}
	return e, ver, nil
}

// noteAgentCall remembers the agent's last placed call for the match
// window (sent with the agent's slot, through the batcher).
func (r *Redis) noteAgentCall(ctx context.Context, agent, id string) {
	if r.matchWindow > 0 && agent != "" {
		_ = r.send(ctx, redis.NewCmd(ctx, "set", r.k.agentLast(agent), id, "px", r.matchWindow.Milliseconds()))
	}
}
