package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Every key shares the hash tag {dh}: the scripts below touch the claim, the
// record, the queue and the indexes of an event in one atomic step, and on
// Redis Cluster that needs one slot.
const group = "dialhook"

// keys are the key names under one namespace.
type keys struct {
	p, queue, due, ev, dedup, guid, state, cool string
}

func newKeys(ns string) keys {
	p := ns + ":{dh}:"
	return keys{p: p, queue: p + "q", due: p + "due", ev: p + "ev:", dedup: p + "dedup:", guid: p + "guid:", state: p + "st:", cool: p + "cool:"}
}

// Redis is the production store: one Redis, Sentinel or Cluster.
type Redis struct {
	rdb       redis.UniversalClient
	k         keys
	retention time.Duration
	queueMax  int
}

var _ Store = (*Redis)(nil)

// RedisOptions tune the Redis store.
type RedisOptions struct {
	Retention time.Duration // how long records live (default 30 days)
	QueueMax  int           // backlog above which Accept answers ErrQueueFull (default 100000)
	Namespace string        // key prefix (default "dialhook"); deployments sharing a Redis use their own
}

// OpenRedis connects to the Redis named by url (redis://, rediss://; a
// comma-separated list of addresses in the URL's host selects Cluster) and
// prepares the queue. It does not fail when Redis is down: Ping tells.
func OpenRedis(ctx context.Context, url string, o RedisOptions) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("store: redis url: %w", err)
	}
	uo := &redis.UniversalOptions{
		Addrs: strings.Split(opt.Addr, ","), DB: opt.DB, Username: opt.Username, Password: opt.Password,
		TLSConfig: opt.TLSConfig, PoolSize: 64, MinIdleConns: 4,
		ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second,
	}
	return NewRedis(ctx, redis.NewUniversalClient(uo), o)
}

// NewRedis wraps an existing client.
func NewRedis(ctx context.Context, rdb redis.UniversalClient, o RedisOptions) (*Redis, error) {
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.QueueMax <= 0 {
		o.QueueMax = 100000
	}
	if o.Namespace == "" {
		o.Namespace = "dialhook"
	}
	r := &Redis{rdb: rdb, k: newKeys(o.Namespace), retention: o.Retention, queueMax: o.QueueMax}
	_ = r.ensureGroup(ctx) // retried by Next when Redis is down now
	return r, nil
}

func (r *Redis) ensureGroup(ctx context.Context) error {
	err := r.rdb.XGroupCreateMkStream(ctx, r.k.queue, group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return wrap(err)
	}
	return nil
}

// wrap marks connection-level failures as ErrUnavailable.
func wrap(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "LOADING") ||
		strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "reset by peer") {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return fmt.Errorf("store: redis: %w", err)
}

// Lua helpers shared by the scripts: read an event's fields, move it between
// state indexes.
const luaLib = `
local P = ARGV[1]
local A = {unpack(ARGV, 2)}
local function setstate(id, old, new, score)
  if old and old ~= '' then redis.call('ZREM', P..'st:'..old, id) end
  redis.call('ZADD', P..'st:'..new, score, id)
  redis.call('HSET', P..'ev:'..id, 'state', new)
end
local function read(id)
  return redis.call('HMGET', P..'ev:'..id, 'doc', 'state', 'attempts', 'dups', 'rcv')
end
`

// accept: KEYS dedup, cooldown; ARGV id, doc, state, dedupTTLms, retentionS,
// queueMax, receivedMs, dueMs, cooldownTTLms, agent.
var acceptScript = redis.NewScript(luaLib + `
if KEYS[1] ~= '' then
  local old = redis.call('GET', KEYS[1])
  if old then
    if redis.call('EXISTS', P..'ev:'..old) == 1 then redis.call('HINCRBY', P..'ev:'..old, 'dups', 1) end
    local f = read(old)
    return {'dup', old, f[1], f[2], f[3], f[4]}
  end
end
local state = A[3]
if state == 'queued' and redis.call('XLEN', P..'q') >= tonumber(A[6]) then return {'full'} end
if state == 'queued' or state == 'scheduled' then
  if KEYS[2] ~= '' then
    if redis.call('SET', KEYS[2], A[1], 'NX', 'PX', A[9]) == false then state = 'suppressed' end
  end
end
local id = A[1]
local ev = P..'ev:'..id
if KEYS[1] ~= '' then redis.call('SET', KEYS[1], id, 'PX', A[4]) end
redis.call('HSET', ev, 'doc', A[2], 'attempts', 0, 'dups', 0, 'rcv', A[7], 'agent', A[10])
setstate(id, nil, state, A[7])
redis.call('EXPIRE', ev, A[5])
if state == 'queued' then redis.call('XADD', P..'q', '*', 'id', id) end
if state == 'scheduled' then redis.call('ZADD', P..'due', A[8], id) end
return {'new', id, state}
`)

// begin: ARGV id, ref, holdMs, nowMs.
var beginScript = redis.NewScript(luaLib + `
local id = A[1]
local f = read(id)
local st = f[2]
if not st then
  redis.call('XACK', P..'q', 'dialhook', A[2]); redis.call('XDEL', P..'q', A[2])
  return {'skip'}
end
if st == 'dialing' then
  setstate(id, st, 'unknown', f[5])
  redis.call('XACK', P..'q', 'dialhook', A[2]); redis.call('XDEL', P..'q', A[2])
  f = read(id)
  return {'interrupted', f[1], f[2], f[3], f[4]}
end
if st ~= 'queued' then
  redis.call('XACK', P..'q', 'dialhook', A[2]); redis.call('XDEL', P..'q', A[2])
  return {'skip', f[1], f[2], f[3], f[4]}
end
local agent = redis.call('HGET', P..'ev:'..id, 'agent')
if agent and agent ~= '' then
  local akey = P..'agent:'..agent
  if redis.call('SET', akey, id, 'NX', 'PX', A[3]) == false and redis.call('GET', akey) ~= id then
    local wait = redis.call('PTTL', akey)
    if wait < 1 then wait = 50 end
    local due = tonumber(A[4]) + wait
    redis.call('ZADD', P..'due', due, id)
    -- finish wakes the agent's waiters when the call ends, before the hold runs out
    redis.call('SADD', P..'agentw:'..agent, id)
    redis.call('PEXPIRE', P..'agentw:'..agent, wait + 60000)
    redis.call('XACK', P..'q', 'dialhook', A[2]); redis.call('XDEL', P..'q', A[2])
    return {'busy', f[1], f[2], f[3], f[4], tostring(due)}
  end
  redis.call('SREM', P..'agentw:'..agent, id)
end
setstate(id, st, 'dialing', f[5])
redis.call('HINCRBY', P..'ev:'..id, 'attempts', 1)
f = read(id)
return {'dial', f[1], f[2], f[3], f[4]}
`)

// finish: ARGV id, ref, state, doc, guid, dueMs, agentKey, gapMs, nowMs,
// agentWaitersKey.
var finishScript = redis.NewScript(luaLib + `
local id = A[1]
local f = read(id)
if A[7] ~= '' and redis.call('GET', A[7]) == id then
  if tonumber(A[8]) > 0 then redis.call('PEXPIRE', A[7], A[8]) else redis.call('DEL', A[7]) end
  -- the agent is free once its gap is over: its waiting events are due then
  local at = tonumber(A[9]) + tonumber(A[8])
  for _, w in ipairs(redis.call('SMEMBERS', A[10])) do
    local s = redis.call('ZSCORE', P..'due', w)
    if s and tonumber(s) > at then redis.call('ZADD', P..'due', at, w) end
  end
  redis.call('DEL', A[10])
end
if f[2] ~= 'dialing' then
  if A[2] ~= '' then redis.call('XACK', P..'q', 'dialhook', A[2]); redis.call('XDEL', P..'q', A[2]) end
  return {'conflict', f[1], f[2], f[3], f[4]}
end
redis.call('HSET', P..'ev:'..id, 'doc', A[4])
setstate(id, f[2], A[3], f[5])
if A[5] ~= '' then
  redis.call('SET', P..'guid:'..A[5], id, 'EX', redis.call('TTL', P..'ev:'..id))
end
if A[3] == 'queued' or A[3] == 'scheduled' then redis.call('ZADD', P..'due', A[6], id) end
if A[2] ~= '' then redis.call('XACK', P..'q', 'dialhook', A[2]); redis.call('XDEL', P..'q', A[2]) end
f = read(id)
return {'ok', f[1], f[2], f[3], f[4]}
`)

// promote: ARGV nowMs, limit.
var promoteScript = redis.NewScript(luaLib + `
local ids = redis.call('ZRANGEBYSCORE', P..'due', '-inf', A[1], 'LIMIT', 0, tonumber(A[2]))
local n = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', P..'due', id)
  local f = read(id)
  if f[2] == 'scheduled' or f[2] == 'queued' then
    if f[2] == 'scheduled' then setstate(id, f[2], 'queued', f[5]) end
    redis.call('XADD', P..'q', '*', 'id', id)
    n = n + 1
  end
end
return n
`)

// redial: ARGV id, doc.
var redialScript = redis.NewScript(luaLib + `
local id = A[1]
local f = read(id)
if not f[2] then return {'missing'} end
if f[2] ~= 'unknown' and f[2] ~= 'failed' and f[2] ~= 'rejected' then return {'conflict', f[1], f[2], f[3], f[4]} end
redis.call('HSET', P..'ev:'..id, 'doc', A[2])
setstate(id, f[2], 'queued', f[5])
redis.call('XADD', P..'q', '*', 'id', id)
f = read(id)
return {'ok', f[1], f[2], f[3], f[4]}
`)

// decode builds an Event from doc, state, attempts, dups.
func decode(vals []any) (*Event, error) {
	if len(vals) < 4 || vals[0] == nil {
		return nil, ErrNotFound
	}
	doc, _ := vals[0].(string)
	var e Event
	if err := json.Unmarshal([]byte(doc), &e); err != nil {
		return nil, fmt.Errorf("store: corrupt record: %w", err)
	}
	if s, ok := vals[1].(string); ok {
		e.State = State(s)
	}
	if s, ok := vals[2].(string); ok {
		e.Attempts, _ = strconv.Atoi(s)
	}
	if s, ok := vals[3].(string); ok {
		e.Duplicates, _ = strconv.Atoi(s)
	}
	return &e, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Accept implements Store. A batch goes to Redis in one pipeline.
func (r *Redis) Accept(ctx context.Context, subs []Submission) ([]Accepted, error) {
	cmds := make([]*redis.Cmd, len(subs))
	run := func(p redis.Scripter) error {
		for i, s := range subs {
			e := s.Event
			doc, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("store: encode: %w", err)
			}
			dedup, cool := "", ""
			if s.DedupKey != "" {
				dedup = r.k.dedup + s.DedupKey
			}
			if s.CooldownKey != "" && s.CooldownTTL > 0 {
				cool = r.k.cool + s.CooldownKey
			}
			var due int64
			if e.DueAt != nil {
				due = ms(*e.DueAt)
			}
			cmds[i] = acceptScript.Run(ctx, p, []string{dedup, cool},
				r.k.p, e.ID, doc, string(e.State), max(s.DedupTTL.Milliseconds(), 1), int64(r.retention.Seconds()),
				r.queueMax, ms(e.ReceivedAt), due, max(s.CooldownTTL.Milliseconds(), 1), e.Params.Agent)
		}
		return nil
	}
	if len(subs) == 1 {
		if err := run(r.rdb); err != nil {
			return nil, err
		}
	} else {
		pipe := r.rdb.Pipeline()
		if err := run(pipe); err != nil {
			return nil, err
		}
		_, _ = pipe.Exec(ctx) // errors are read per command below
	}
	out := make([]Accepted, len(subs))
	for i, c := range cmds {
		vals, err := c.Slice()
		if err != nil {
			return nil, wrap(err)
		}
		switch vals[0] {
		case "full":
			return nil, ErrQueueFull
		case "dup":
			e, err := decode(vals[2:])
			if err != nil {
				// The record expired but the claim lives on: still a duplicate.
				e = &Event{ID: vals[1].(string), State: Ignored}
			}
			out[i] = Accepted{Event: e, Duplicate: true}
		default:
			e := *subs[i].Event
			e.State = State(vals[2].(string))
			out[i] = Accepted{Event: &e}
		}
	}
	return out, nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, id string) (*Event, error) {
	vals, err := r.rdb.HMGet(ctx, r.k.ev+id, "doc", "state", "attempts", "dups").Result()
	if err != nil {
		return nil, wrap(err)
	}
	return decode(vals)
}

// GetByGUID implements Store.
func (r *Redis) GetByGUID(ctx context.Context, guid string) (*Event, error) {
	id, err := r.rdb.Get(ctx, r.k.guid+strings.ToLower(guid)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, wrap(err)
	}
	return r.Get(ctx, id)
}

// List implements Store.
func (r *Redis) List(ctx context.Context, state State, limit int) ([]*Event, error) {
	ids, err := r.rdb.ZRevRange(ctx, r.k.state+string(state), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, r.k.ev+id, "doc", "state", "attempts", "dups")
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrap(err)
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
		r.rdb.ZRem(ctx, r.k.state+string(state), stale...)
	}
	return out, nil
}

// Next implements Store.
func (r *Redis) Next(ctx context.Context, consumer string, block time.Duration) ([]Delivery, error) {
	res, err := r.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{r.k.queue, ">"}, Count: 1, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil && strings.Contains(err.Error(), "NOGROUP") {
		// Redis lost the stream (restart without persistence): recreate it.
		if gerr := r.ensureGroup(ctx); gerr != nil {
			return nil, gerr
		}
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err)
	}
	return toDeliveries(res), nil
}

func toDeliveries(res []redis.XStream) []Delivery {
	var out []Delivery
	for _, s := range res {
		for _, m := range s.Messages {
			id, _ := m.Values["id"].(string)
			out = append(out, Delivery{EventID: id, Ref: m.ID})
		}
	}
	return out
}

// Reclaim implements Store.
func (r *Redis) Reclaim(ctx context.Context, consumer string, idle time.Duration) ([]Delivery, error) {
	msgs, _, err := r.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: r.k.queue, Group: group, Consumer: consumer, MinIdle: idle, Start: "0-0", Count: 100,
	}).Result()
	if err != nil {
		return nil, wrap(err)
	}
	return toDeliveries([]redis.XStream{{Messages: msgs}}), nil
}

// Begin implements Store.
func (r *Redis) Begin(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (*Event, BeginResult, error) {
	vals, err := beginScript.Run(ctx, r.rdb, nil, r.k.p, d.EventID, d.Ref, max(hold.Milliseconds(), 1), ms(now)).Slice()
	if err != nil {
		return nil, Skip, wrap(err)
	}
	var e *Event
	if len(vals) >= 5 {
		e, err = decode(vals[1:5])
		if err != nil {
			return nil, Skip, err
		}
	}
	switch vals[0] {
	case "dial":
		return e, Dial, nil
	case "interrupted":
		return e, Interrupted, nil
	case "busy":
		due, _ := strconv.ParseInt(vals[5].(string), 10, 64)
		t := time.UnixMilli(due)
		e.DueAt = &t
		return e, Busy, nil
	}
	return e, Skip, nil
}

// Finish implements Store.
func (r *Redis) Finish(ctx context.Context, d Delivery, out Outcome, now time.Time) (*Event, error) {
	cur, err := r.Get(ctx, d.EventID)
	if err != nil {
		return nil, err
	}
	apply(cur, out, now)
	doc, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	akey, wkey := "", ""
	if out.Agent != "" {
		akey, wkey = r.k.p+"agent:"+out.Agent, r.k.p+"agentw:"+out.Agent
	}
	var due int64
	if !out.DueAt.IsZero() {
		due = ms(out.DueAt)
	}
	vals, err := finishScript.Run(ctx, r.rdb, nil, r.k.p, d.EventID, d.Ref, string(out.State), doc,
		strings.ToLower(out.CallGUID), due, akey, out.MinGap.Milliseconds(), ms(now), wkey).Slice()
	if err != nil {
		return nil, wrap(err)
	}
	e, derr := decode(vals[1:5])
	if vals[0] == "conflict" {
		return e, ErrConflict
	}
	return e, derr
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

// Promote implements Store.
func (r *Redis) Promote(ctx context.Context, now time.Time) (int, error) {
	n, err := promoteScript.Run(ctx, r.rdb, nil, r.k.p, ms(now), 500).Int()
	if err != nil {
		return 0, wrap(err)
	}
	// Trim state indexes of records past retention.
	cut := strconv.FormatInt(ms(now.Add(-r.retention)), 10)
	pipe := r.rdb.Pipeline()
	for _, s := range States {
		pipe.ZRemRangeByScore(ctx, r.k.state+string(s), "-inf", "("+cut)
	}
	_, _ = pipe.Exec(ctx)
	return n, nil
}

// Redial implements Store.
func (r *Redis) Redial(ctx context.Context, id string, rd Redial) (*Event, error) {
	cur, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	cur.Redials = append(cur.Redials, rd)
	cur.State, cur.UpdatedAt, cur.DueAt = Queued, rd.At, nil
	doc, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	vals, err := redialScript.Run(ctx, r.rdb, nil, r.k.p, id, doc).Slice()
	if err != nil {
		return nil, wrap(err)
	}
	switch vals[0] {
	case "missing":
		return nil, ErrNotFound
	case "conflict":
		e, _ := decode(vals[1:5])
		return e, ErrConflict
	}
	return decode(vals[1:5])
}

// Stats implements Store.
func (r *Redis) Stats(ctx context.Context, now time.Time) (Stats, error) {
	pipe := r.rdb.Pipeline()
	depth := pipe.XLen(ctx, r.k.queue)
	first := pipe.XRangeN(ctx, r.k.queue, "-", "+", 1)
	due := pipe.ZCard(ctx, r.k.due)
	counts := make(map[State]*redis.IntCmd, len(States))
	for _, s := range States {
		counts[s] = pipe.ZCard(ctx, r.k.state+string(s))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Stats{}, wrap(err)
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

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error { return wrap(r.rdb.Ping(ctx).Err()) }

// Close implements Store.
func (r *Redis) Close() error { return r.rdb.Close() }

// Client exposes the underlying client (for tests and the bench harness).
func (r *Redis) Client() redis.UniversalClient { return r.rdb }
