package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/store/redisurl"
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

	// The accept batcher: see acceptLoop.
	acceptq   chan *acceptCall
	quit      chan struct{}
	closeOnce sync.Once
	loops     sync.WaitGroup

	lastOOM atomic.Int64 // unix ns of the last OOM answer (for Ready)
}

var _ Store = (*Redis)(nil)

// RedisOptions tune the Redis store.
type RedisOptions struct {
	Retention time.Duration // how long records live (default 30 days)
	QueueMax  int           // backlog above which Accept answers ErrQueueFull (default 100000)
	Namespace string        // key prefix (default "dialhook"); deployments sharing a Redis use their own
	// Timeout bounds each command's network wait (dial, read, write) when
	// OpenRedis builds the client (default 2s): a stalled Redis makes a
	// webhook answer 503 within about this long.
	Timeout time.Duration
}

// OpenRedis connects to the Redis named by url (see redisurl.Parse) and
// prepares the queue. It does not fail when Redis is down: Ping tells.
func OpenRedis(ctx context.Context, url string, o RedisOptions) (*Redis, error) {
	u, err := redisurl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	// No client-side retries (MaxRetries -1): a command that timed out may
	// have run, and the scripts change state. Sent again blindly, an accept
	// script would answer its own event as a duplicate and a finish script
	// would find its own write as a conflict. Callers decide (the scripts
	// are idempotent by event id and by Delivery.Token where a retry is
	// wanted).
	switch u.Mode {
	case redisurl.Cluster:
		c := u.Cluster
		c.PoolSize, c.MinIdleConns = 64, 4
		c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.MaxRetries = o.Timeout, o.Timeout, o.Timeout, -1
	case redisurl.Sentinel:
		f := u.Failover
		f.PoolSize, f.MinIdleConns = 64, 4
		f.DialTimeout, f.ReadTimeout, f.WriteTimeout, f.MaxRetries = o.Timeout, o.Timeout, o.Timeout, -1
	default:
		c := u.Single
		c.PoolSize, c.MinIdleConns = 64, 4
		c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.MaxRetries = o.Timeout, o.Timeout, o.Timeout, -1
	}
	return NewRedis(ctx, u.Client(), o)
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
	r := &Redis{rdb: rdb, k: newKeys(o.Namespace), retention: o.Retention, queueMax: o.QueueMax,
		acceptq: make(chan *acceptCall), quit: make(chan struct{})}
	_ = r.ensureGroup(ctx) // retried by Next when Redis is down now
	// Loaded again on NOSCRIPT (Redis restarted or flushed its scripts).
	_ = loadScripts(ctx, rdb)
	r.loops.Add(1)
	go r.acceptLoop()
	return r, nil
}

func (r *Redis) ensureGroup(ctx context.Context) error {
	err := r.rdb.XGroupCreateMkStream(ctx, r.k.queue, group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return r.wrap(err)
	}
	return nil
}

// wrap classifies err (see classify) and notes when Redis was last out of
// memory, for Ready.
func (r *Redis) wrap(err error) error {
	err = classify(err)
	if errors.Is(err, ErrFull) {
		r.lastOOM.Store(time.Now().UnixNano())
	}
	return err
}

// classify marks connection-level failures as ErrUnavailable and Redis'
// OOM answer (maxmemory reached under noeviction) as ErrFull.
func classify(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if redis.HasErrorPrefix(err, "OOM") {
		return fmt.Errorf("%w: %v", ErrFull, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "LOADING") ||
		strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "reset by peer") ||
		// the script is not loaded yet (Redis restarted): it did not run; retry
		redis.HasErrorPrefix(err, "NOSCRIPT") {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return fmt.Errorf("store: redis: %w", err)
}

// recordFields are the hash fields of an event record that Get, List and
// the scripts' read() answer, in this order; decode reads them back.
//
//	doc      the record as JSON (everything but the fields below)
//	state    the state (authoritative over doc)
//	attempts AgentCall attempts so far
//	dups     redeliveries recognised as duplicates
//	sup      the id of the mapping-rejected event this one superseded
//	supby    the id of the event that superseded this one
var recordFields = []string{"doc", "state", "attempts", "dups", "sup", "supby"}

// Lua helpers shared by the scripts: read an event's fields, move it between
// state indexes, acknowledge a queue entry.
const luaLib = `
local P = ARGV[1]
local A = {unpack(ARGV, 2)}
local function setstate(id, old, new, score)
  if old and old ~= '' then redis.call('ZREM', P..'st:'..old, id) end
  redis.call('ZADD', P..'st:'..new, score, id)
  redis.call('HSET', P..'ev:'..id, 'state', new)
end
local function read(id)
  return redis.call('HMGET', P..'ev:'..id, 'doc', 'state', 'attempts', 'dups', 'sup', 'supby')
end
local function ack(ref)
  redis.call('XACK', P..'q', 'dialhook', ref); redis.call('XDEL', P..'q', ref)
end
`

// accept: KEYS dedup, cooldown; ARGV id, doc, state, dedupTTLms, retentionS,
// queueMax, receivedMs, dueMs, cooldownTTLms, agent, mappingFailed ('1' or ”).
// Answers {'dup', id, <recordFields>} for a duplicate, {'full'}, or
// {'new', id, state, supersededID}.
//
// Idempotent by id: a claim that already names this id means the script ran
// before (its answer was lost), and it answers as it did then. A claim held
// by a mapping rejection ('mf') is taken over by a submission that maps. The
// duplicate counter is incremented with pcall: under maxmemory a
// redelivery is still answered as a duplicate, uncounted.
var acceptScript = redis.NewScript(luaLib + `
local id = A[1]
local ev = P..'ev:'..id
local sup = ''
if KEYS[1] ~= '' then
  local old = redis.call('GET', KEYS[1])
  if old == id then return {'new', id, redis.call('HGET', ev, 'state') or A[3], redis.call('HGET', ev, 'sup') or ''} end
  if old then
    local takeover = A[11] ~= '1' and redis.call('HGET', P..'ev:'..old, 'mf') == '1'
    if not takeover then
      local f = read(old)
      if f[1] then
        local n = redis.pcall('HINCRBY', P..'ev:'..old, 'dups', 1)
        if type(n) == 'number' then f[4] = tostring(n) end
      end
      return {'dup', old, f[1], f[2], f[3], f[4], f[5], f[6]}
    end
    sup = old
  end
elseif redis.call('EXISTS', ev) == 1 then
  return {'new', id, redis.call('HGET', ev, 'state'), ''}
end
local state = A[3]
if state == 'queued' and redis.call('XLEN', P..'q') >= tonumber(A[6]) then return {'full'} end
if state == 'queued' or state == 'scheduled' then
  if KEYS[2] ~= '' then
    if redis.call('SET', KEYS[2], id, 'NX', 'PX', A[9]) == false then state = 'suppressed' end
  end
end
if KEYS[1] ~= '' then redis.call('SET', KEYS[1], id, 'PX', A[4]) end
redis.call('HSET', ev, 'doc', A[2], 'state', state, 'attempts', 0, 'dups', 0, 'rcv', A[7], 'agent', A[10], 'mf', A[11], 'sup', sup, 'enrich', A[12])
if sup ~= '' then redis.call('HSET', P..'ev:'..sup, 'supby', id) end
redis.call('ZADD', P..'st:'..state, A[7], id)
redis.call('EXPIRE', ev, A[5])
if state == 'queued' then redis.call('XADD', P..'q', '*', 'id', id) end
if state == 'scheduled' then redis.call('ZADD', P..'due', A[8], id) end
return {'new', id, state, sup}
`)

// begin: ARGV id, ref, holdMs, nowMs, token. It answers the record as it
// leaves it ({result, doc, state, attempts, dups}, and the due time for
// 'busy') without reading it again. An event already dialing under the same
// token is this attempt's own begin asked again: it answers 'dial' again.
var beginScript = redis.NewScript(luaLib + `
local id = A[1]
local ev = P..'ev:'..id
local f = redis.call('HMGET', ev, 'doc', 'state', 'attempts', 'dups', 'rcv', 'agent', 'tok', 'enrich')
local st = f[2]
if not st then
  ack(A[2])
  return {'skip'}
end
if st == 'dialing' and A[5] ~= '' and f[7] == A[5] then
  return {'dial', f[1], 'dialing', f[3], f[4]}
end
if st == 'dialing' then
  setstate(id, st, 'unknown', f[5])
  ack(A[2])
  return {'interrupted', f[1], 'unknown', f[3], f[4]}
end
if st ~= 'queued' then
  ack(A[2])
  return {'skip', f[1], f[2], f[3], f[4]}
end
if f[8] == '1' then return {'enrich', f[1], f[2], f[3], f[4]} end
local agent = f[6]
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
    ack(A[2])
    return {'busy', f[1], f[2], f[3], f[4], tostring(due)}
  end
  -- No SREM from agentw: an event that holds the agent is in no index of
  -- due events, so waking it is a no-op, and its own finish deletes the set.
end
local n = (tonumber(f[3]) or 0) + 1
redis.call('ZREM', P..'st:queued', id)
redis.call('ZADD', P..'st:dialing', f[5], id)
redis.call('HSET', ev, 'state', 'dialing', 'attempts', n, 'tok', A[5])
return {'dial', f[1], 'dialing', tostring(n), f[4]}
`)

// finish: ARGV id, ref, state, doc, guid, dueMs, agentKey, gapMs, nowMs,
// agentWaitersKey, retentionMs, token. The caller built doc from the record
// Begin answered; the script checks the event is still dialing and answers
// {'ok', state, attempts, dups} (the caller has the rest), or {'conflict',
// <recordFields>}. An event no longer dialing whose finish token ('ftok') is
// the caller's was finished by this attempt already (its answer was lost):
// 'ok' again. (Begin's token 'tok' would not do: a reclaim that finds the
// event dialing turns it unknown without changing it.)
var finishScript = redis.NewScript(luaLib + `
local id = A[1]
local ev = P..'ev:'..id
local f = redis.call('HMGET', ev, 'state', 'attempts', 'dups', 'rcv', 'ftok')
if A[7] ~= '' and redis.call('GET', A[7]) == id then
  if tonumber(A[8]) > 0 then redis.call('PEXPIRE', A[7], A[8]) else redis.call('DEL', A[7]) end
  -- the agent is free once its gap is over: its waiting events are due then
  local at = tonumber(A[9]) + tonumber(A[8])
  local ws = redis.call('SMEMBERS', A[10])
  if #ws > 0 then
    for _, w in ipairs(ws) do
      local s = redis.call('ZSCORE', P..'due', w)
      if s and tonumber(s) > at then redis.call('ZADD', P..'due', at, w) end
    end
    redis.call('DEL', A[10])
  end
end
if f[1] ~= 'dialing' then
  if A[2] ~= '' then ack(A[2]) end
  if f[1] and A[12] ~= '' and f[5] == A[12] then return {'ok', f[1], f[2], f[3]} end
  local g = read(id)
  return {'conflict', g[1], g[2], g[3], g[4], g[5], g[6]}
end
redis.call('HSET', ev, 'doc', A[4], 'state', A[3], 'ftok', A[12])
redis.call('ZREM', P..'st:dialing', id)
redis.call('ZADD', P..'st:'..A[3], f[4], id)
if A[5] ~= '' then
  -- the GUID lives as long as the record: received + retention (EXPIRE at accept)
  local exp = (tonumber(f[4]) or 0) + tonumber(A[11])
  if exp > tonumber(A[9]) then
    redis.call('SET', P..'guid:'..A[5], id, 'PXAT', exp)
  else
    redis.call('SET', P..'guid:'..A[5], id, 'EX', math.max(redis.call('TTL', ev), 1))
  end
end
if A[3] == 'queued' or A[3] == 'scheduled' then redis.call('ZADD', P..'due', A[6], id) end
if A[2] ~= '' then ack(A[2]) end
return {'ok', A[3], f[2], f[3]}
`)

// enriched: ARGV id, ref, state, doc, agent, dueMs, mappingFailed. The
// event must still be queued and waiting for enrichment, else
// {'conflict', <recordFields>}. Queued with no due time: the record gets
// its params (and agent) and goes on, its queue entry still pending with
// the caller; queued with a due time: it waits for then; any other state
// ends it. Answers {'ok', state, attempts, dups}.
var enrichedScript = redis.NewScript(luaLib + `
local id = A[1]
local ev = P..'ev:'..id
local f = redis.call('HMGET', ev, 'state', 'attempts', 'dups', 'rcv', 'enrich')
if f[1] ~= 'queued' or f[5] ~= '1' then
  local g = read(id)
  return {'conflict', g[1], g[2], g[3], g[4], g[5], g[6]}
end
if A[3] == 'queued' and A[6] == '0' then
  redis.call('HSET', ev, 'doc', A[4], 'agent', A[5], 'enrich', '')
elseif A[3] == 'queued' then
  redis.call('HSET', ev, 'doc', A[4])
  redis.call('ZADD', P..'due', A[6], id)
  ack(A[2])
else
  redis.call('HSET', ev, 'doc', A[4], 'mf', A[7])
  setstate(id, 'queued', A[3], f[4])
  ack(A[2])
end
return {'ok', A[3], f[2], f[3]}
`)

// promote: ARGV nowMs, limit.
var promoteScript = redis.NewScript(luaLib + `
local ids = redis.call('ZRANGEBYSCORE', P..'due', '-inf', A[1], 'LIMIT', 0, tonumber(A[2]))
local n = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', P..'due', id)
  local f = redis.call('HMGET', P..'ev:'..id, 'state', 'rcv')
  if f[1] == 'scheduled' or f[1] == 'queued' then
    if f[1] == 'scheduled' then setstate(id, f[1], 'queued', f[2]) end
    redis.call('XADD', P..'q', '*', 'id', id)
    n = n + 1
  end
end
return n
`)

// redial: ARGV id, doc, expectedState, expectedAttempts. The caller built
// doc from the record it read; the script applies it only when the record
// is still as read (state and attempts), else answers 'changed' and the
// caller reads again. The redial rule (store.Redialable) is checked here,
// atomically with the change: {'conflict'|'mapping_failed', <recordFields>}.
var redialScript = redis.NewScript(luaLib + `
local id = A[1]
local f = read(id)
if not f[2] then return {'missing'} end
if f[2] ~= A[3] or (f[3] or '0') ~= A[4] then return {'changed'} end
if f[2] == 'rejected' and redis.call('HGET', P..'ev:'..id, 'mf') == '1' then
  return {'mapping_failed', f[1], f[2], f[3], f[4], f[5], f[6]}
end
if f[2] ~= 'unknown' and f[2] ~= 'failed' and f[2] ~= 'rejected' then
  return {'conflict', f[1], f[2], f[3], f[4], f[5], f[6]}
end
redis.call('ZREM', P..'st:'..f[2], id)
redis.call('ZADD', P..'st:queued', redis.call('HGET', P..'ev:'..id, 'rcv'), id)
redis.call('HSET', P..'ev:'..id, 'doc', A[2], 'state', 'queued')
redis.call('XADD', P..'q', '*', 'id', id)
f[1], f[2] = A[2], 'queued'
return {'ok', f[1], f[2], f[3], f[4], f[5], f[6]}
`)

// decode builds an Event from the values of recordFields, in that order
// (missing trailing values count as empty).
func decode(vals []any) (*Event, error) {
	if len(vals) < 4 || vals[0] == nil {
		return nil, ErrNotFound
	}
	doc, _ := vals[0].(string)
	var e Event
	if err := json.Unmarshal([]byte(doc), &e); err != nil {
		return nil, fmt.Errorf("store: corrupt record: %w", err)
	}
	field := func(i int) string {
		if i < len(vals) {
			s, _ := vals[i].(string)
			return s
		}
		return ""
	}
	if s := field(1); s != "" {
		e.State = State(s)
	}
	e.Attempts, _ = strconv.Atoi(field(2))
	e.Duplicates, _ = strconv.Atoi(field(3))
	e.Supersedes, e.SupersededBy = field(4), field(5)
	return &e, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Accept implements Store. Each submission is one EVALSHA of the accept
// script, atomic on its own. The commands of concurrent Accept calls are
// sent together, in one pipeline, by the accept batcher (acceptLoop).
func (r *Redis) Accept(ctx context.Context, subs []Submission) ([]Accepted, error) {
	cmds := make([]*redis.Cmd, len(subs))
	for i, s := range subs {
		cmd, err := r.acceptCmd(ctx, s)
		if err != nil {
			return nil, err
		}
		cmds[i] = cmd
	}
	if err := r.send(ctx, cmds); err != nil {
		return nil, err
	}
	out := make([]Accepted, len(subs))
	for i, c := range cmds {
		vals, err := c.Slice()
		if err != nil {
			return nil, r.wrap(err)
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
			e.Supersedes, _ = vals[3].(string)
			out[i] = Accepted{Event: &e}
		}
	}
	return out, nil
}

// acceptCmd is the accept script's command for one submission.
func (r *Redis) acceptCmd(ctx context.Context, s Submission) (*redis.Cmd, error) {
	e := s.Event
	doc, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
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
	return evalsha(ctx, acceptScript, []string{dedup, cool},
		r.k.p, e.ID, doc, string(e.State), max(s.DedupTTL.Milliseconds(), 1), int64(r.retention.Seconds()),
		r.queueMax, ms(e.ReceivedAt), due, max(s.CooldownTTL.Milliseconds(), 1), e.Params.Agent,
		flag(e.remappable()), flag(e.Enrich != nil)), nil
}

// flag is a boolean hash field as the scripts read it: "1" or "".
func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// batchedScripts go through the batcher; loadScripts loads them.
var batchedScripts = []*redis.Script{acceptScript, beginScript, finishScript, enrichedScript}

func loadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, sc := range batchedScripts {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			return err
		}
	}
	return nil
}

// evalsha is one script call for the batcher.
func evalsha(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, "evalsha", sc.Hash(), len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return redis.NewCmd(ctx, append(a, args...)...)
}

// maxBatch bounds the commands the accept batcher sends in one pipeline.
const maxBatch = 128

// acceptCall is one Accept waiting for the batcher.
type acceptCall struct {
	ctx  context.Context
	cmds []*redis.Cmd
	done chan error // buffered: the batcher never waits for the caller
}

var errClosed = fmt.Errorf("%w: store closed", ErrUnavailable)

// send hands cmds to the accept batcher and waits for their answers. When
// ctx ends first, the commands may still run: the caller answers an error,
// the sender retries, and a recorded event becomes a duplicate.
func (r *Redis) send(ctx context.Context, cmds []*redis.Cmd) error {
	c := &acceptCall{ctx: ctx, cmds: cmds, done: make(chan error, 1)}
	select {
	case r.acceptq <- c:
	case <-r.quit:
		return errClosed
	case <-ctx.Done():
		return r.wrap(ctx.Err())
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return r.wrap(ctx.Err())
	}
}

// acceptLoop is the accept batcher. It takes the Accept calls that are
// waiting (one at least, it never waits to fill a batch) and sends their
// scripts in one pipeline: one write and one read for many webhooks. Each
// script stays atomic on its own; batching only shares the round trip.
func (r *Redis) acceptLoop() {
	defer r.loops.Done()
	var calls []*acceptCall
	for {
		select {
		case c := <-r.acceptq:
			calls = append(calls[:0], c)
		case <-r.quit:
			return
		}
		n := len(calls[0].cmds)
	fill:
		for n < maxBatch {
			select {
			case c := <-r.acceptq:
				calls = append(calls, c)
				n += len(c.cmds)
			default:
				break fill
			}
		}
		r.runBatch(calls)
		clear(calls)
	}
}

// runBatch sends the commands of calls in one pipeline and answers each
// call. A caller whose context is over before the batch is sent is left out.
// The pipeline itself runs without any one caller's context, so that one
// cancelled request does not fail the others.
func (r *Redis) runBatch(calls []*acceptCall) {
	live := calls[:0:0]
	var cmds []*redis.Cmd
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.done <- r.wrap(err)
			continue
		}
		live = append(live, c)
		cmds = append(cmds, c.cmds...)
	}
	if len(cmds) == 0 {
		return
	}
	ctx := context.Background()
	for try := 0; ; try++ {
		pipe := r.rdb.Pipeline()
		for _, cmd := range cmds {
			_ = pipe.Process(ctx, cmd)
		}
		_, _ = pipe.Exec(ctx) // errors are read per command by the callers
		// NOSCRIPT: Redis lost the script (restart, SCRIPT FLUSH); that
		// command did not run. Load the script and send those again.
		var again []*redis.Cmd
		for _, cmd := range cmds {
			if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
				again = append(again, cmd)
			}
		}
		if len(again) == 0 || try == 2 {
			break
		}
		if err := loadScripts(ctx, r.rdb); err != nil {
			for _, cmd := range again {
				cmd.SetErr(err) // Redis is loading or gone again: unavailable
			}
			break
		}
		for _, cmd := range again {
			cmd.SetErr(nil)
		}
		cmds = again
	}
	for _, c := range live {
		c.done <- nil
	}
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, id string) (*Event, error) {
	vals, err := r.rdb.HMGet(ctx, r.k.ev+id, recordFields...).Result()
	if err != nil {
		return nil, r.wrap(err)
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
		return nil, r.wrap(err)
	}
	return r.Get(ctx, id)
}

// List implements Store.
func (r *Redis) List(ctx context.Context, state State, limit int) ([]*Event, error) {
	ids, err := r.rdb.ZRevRange(ctx, r.k.state+string(state), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, r.wrap(err)
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, r.k.ev+id, recordFields...)
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
		return nil, r.wrap(err)
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
		return nil, r.wrap(err)
	}
	return toDeliveries([]redis.XStream{{Messages: msgs}}), nil
}

// Begin implements Store.
func (r *Redis) Begin(ctx context.Context, d Delivery, hold time.Duration, now time.Time) (*Event, BeginResult, error) {
	cmd := evalsha(ctx, beginScript, nil, r.k.p, d.EventID, d.Ref, max(hold.Milliseconds(), 1), ms(now), d.Token)
	if err := r.send(ctx, []*redis.Cmd{cmd}); err != nil {
		return nil, Skip, err
	}
	vals, err := cmd.Slice()
	if err != nil {
		return nil, Skip, r.wrap(err)
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
	case "enrich":
		return e, NeedsEnrich, nil
	case "busy":
		due, _ := strconv.ParseInt(vals[5].(string), 10, 64)
		t := time.UnixMilli(due)
		e.DueAt = &t
		return e, Busy, nil
	}
	return e, Skip, nil
}

// Finish implements Store. ev is the record Begin answered for d (nil: it
// is read first); the record changes only through Finish while it is dialing.
func (r *Redis) Finish(ctx context.Context, d Delivery, ev *Event, out Outcome, now time.Time) (*Event, error) {
	var cur *Event
	if ev != nil && ev.ID == d.EventID {
		cur = clone(ev)
	} else {
		var err error
		if cur, err = r.Get(ctx, d.EventID); err != nil {
			return nil, err
		}
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
	cmd := evalsha(ctx, finishScript, nil, r.k.p, d.EventID, d.Ref, string(out.State), doc,
		strings.ToLower(out.CallGUID), due, akey, out.MinGap.Milliseconds(), ms(now), wkey, r.retention.Milliseconds(), d.Token)
	if err := r.send(ctx, []*redis.Cmd{cmd}); err != nil {
		return nil, err
	}
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
		return nil, fmt.Errorf("store: finish: unexpected answer %v", vals)
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

// Promote implements Store.
func (r *Redis) Promote(ctx context.Context, now time.Time) (int, error) {
	n, err := promoteScript.Run(ctx, r.rdb, nil, r.k.p, ms(now), 500).Int()
	if err != nil {
		return 0, r.wrap(err)
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
		vals, err := redialScript.Run(ctx, r.rdb, nil, r.k.p, id, doc, string(state), attempts).Slice()
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
	depth := pipe.XLen(ctx, r.k.queue)
	first := pipe.XRangeN(ctx, r.k.queue, "-", "+", 1)
	due := pipe.ZCard(ctx, r.k.due)
	counts := make(map[State]*redis.IntCmd, len(States))
	for _, s := range States {
		counts[s] = pipe.ZCard(ctx, r.k.state+string(s))
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

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error { return r.wrap(r.rdb.Ping(ctx).Err()) }

// oomRecent is how long after an OOM answer Ready keeps failing, unless
// INFO shows memory back under maxmemory.
const oomRecent = 10 * time.Second

// Close implements Store. Accept calls after Close answer ErrUnavailable.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() { close(r.quit) })
	r.loops.Wait()
	return r.rdb.Close()
}

// Client exposes the underlying client (for tests and the bench harness).
func (r *Redis) Client() redis.UniversalClient { return r.rdb }

// Enriched implements Store.
func (r *Redis) Enriched(ctx context.Context, d Delivery, ev *Event, out Enrichment, now time.Time) (*Event, error) {
	var cur *Event
	if ev != nil && ev.ID == d.EventID {
		cur = clone(ev)
	} else {
		var err error
		if cur, err = r.Get(ctx, d.EventID); err != nil {
			return nil, err
		}
	}
	if cur.Enrich == nil {
		return cur, ErrConflict
	}
	applyEnrichment(cur, out, now)
	doc, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	var due int64
	if out.State == Queued && !out.DueAt.IsZero() {
		due = ms(out.DueAt)
	}
	cmd := evalsha(ctx, enrichedScript, nil, r.k.p, d.EventID, d.Ref, string(out.State), doc, cur.Params.Agent, due,
		flag(cur.remappable()))
	if err := r.send(ctx, []*redis.Cmd{cmd}); err != nil {
		return nil, err
	}
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
	cur.Attempts, _ = strconv.Atoi(fmt.Sprint(vals[2]))
	cur.Duplicates, _ = strconv.Atoi(fmt.Sprint(vals[3]))
	return cur, nil
}
