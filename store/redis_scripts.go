package store

import (
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The hash fields of an event record.
const (
	fDoc      = "doc"      // the record as JSON (everything but the fields below)
	fState    = "state"    // the state (authoritative over doc)
	fAttempts = "attempts" // AgentCall attempts so far
	fDups     = "dups"     // redeliveries recognised as duplicates
	fSup      = "sup"      // the mapping-rejected event this one superseded
	fSupBy    = "supby"    // the event that superseded this one
	fRcv      = "rcv"      // received at, ms (the state indexes' score)
	fAgent    = "agent"    // the agent, for pacing
	fMF       = "mf"       // "1": rejected by its mapping (a redelivery that maps takes over)
	fTok      = "tok"      // Delivery.Token of the attempt that began dialing it
	fFTok     = "ftok"     // Delivery.Token of the attempt that finished it
	fEnrich   = "enrich"   // "1": waits for enrichment before the call
)

// recordFields are the fields Get, List and the scripts' record() answer, in
// this order; decode reads them back. The Lua table F is built from the
// same constants: no script spells a field name.
var recordFields = []string{fDoc, fState, fAttempts, fDups, fSup, fSupBy}

// luaLib is prepended to every script: F names the fields, RECORD lists
// recordFields, record() reads them, ack() acknowledges a queue entry.
var luaLib = func() string {
	var b strings.Builder
	b.WriteString("local F = {")
	for _, f := range []string{fDoc, fState, fAttempts, fDups, fSup, fSupBy, fRcv, fAgent, fMF, fTok, fFTok, fEnrich} {
		fmt.Fprintf(&b, "%s=%q, ", f, f)
	}
	b.WriteString("}\nlocal RECORD = {")
	for _, f := range recordFields {
		fmt.Fprintf(&b, "%q, ", f)
	}
	b.WriteString(`}
local function record(key) return redis.call('HMGET', key, unpack(RECORD)) end
local function ack(queue, grp, ref) redis.call('XACK', queue, grp, ref); redis.call('XDEL', queue, ref) end
local function move(id, from, to, score)
  redis.call('ZREM', from, id)
  redis.call('ZADD', to, score, id)
end
-- opt returns the optional key at position ARGV[i] (0: absent).
local function opt(i) local n = tonumber(ARGV[i]); if n and n > 0 then return KEYS[n] end; return nil end
`)
	return b.String()
}()

// script is a Lua script with luaLib in front.
func script(src string) *redis.Script { return redis.NewScript(luaLib + src) }

// accept records one new event, or finds its duplicate.
//
// KEYS: 1 record, 2 queue, 3 state index of ARGV[3], 4 the suppressed
// index, 5 due; optional (positions in ARGV[13..15], 0 when absent): the
// dedup claim, the cooldown claim, the superseded event's record.
// ARGV: 1 id, 2 doc, 3 state, 4 dedup TTL ms, 5 retention s, 6 queue max,
// 7 received ms, 8 due ms, 9 cooldown TTL ms, 10 agent, 11 mapping failed
// ("1"/""), 12 enrich ("1"/""), 13-15 optional key positions, 16 the event
// whose claim to take over (with its record key).
// Returns {'new', id, state, superseded id}, {'dup', id} (the caller reads
// the record with dupScript), {'full'}.
//
// Idempotent by id: a claim (or, without one, a record) that already names
// this id means the script ran before and its answer was lost: it answers as
// it did then. Taking over a mapping rejection's claim needs its record in
// KEYS: the caller learns it from dupScript and asks again.
var acceptScript = script(acceptLua)

const acceptLua = `
local ev, q, id = KEYS[1], KEYS[2], ARGV[1]
local dedup, cool, oldKey = opt(13), opt(14), opt(15)
local sup = ''
if dedup then
  local old = redis.call('GET', dedup)
  if old == id then return {'new', id, redis.call('HGET', ev, F.state) or ARGV[3], redis.call('HGET', ev, F.sup) or ''} end
  if old then
    if not (oldKey and old == ARGV[16] and ARGV[11] ~= '1' and redis.call('HGET', oldKey, F.mf) == '1') then
      return {'dup', old}
    end
    sup = old
  end
elseif redis.call('EXISTS', ev) == 1 then
  return {'new', id, redis.call('HGET', ev, F.state), redis.call('HGET', ev, F.sup) or ''}
end
local state, idx = ARGV[3], KEYS[3]
if state == 'queued' and redis.call('XLEN', q) >= tonumber(ARGV[6]) then return {'full'} end
if (state == 'queued' or state == 'scheduled') and cool then
  if redis.call('SET', cool, id, 'NX', 'PX', ARGV[9]) == false then state, idx = 'suppressed', KEYS[4] end
end
if dedup then redis.call('SET', dedup, id, 'PX', ARGV[4]) end
redis.call('HSET', ev, F.doc, ARGV[2], F.state, state, F.attempts, 0, F.dups, 0, F.rcv, ARGV[7], F.agent, ARGV[10],
  F.mf, ARGV[11], F.sup, sup, F.enrich, ARGV[12])
if sup ~= '' then redis.call('HSET', oldKey, F.supby, id) end
redis.call('ZADD', idx, ARGV[7], id)
redis.call('EXPIRE', ev, ARGV[5])
if state == 'queued' then redis.call('XADD', q, '*', 'id', id, 'agent', ARGV[10]) end
if state == 'scheduled' then redis.call('ZADD', KEYS[5], ARGV[8], id) end
return {'new', id, state, sup}
`

// dup reads the event a duplicate delivery repeats and counts the
// delivery, unless the event was rejected by its mapping and this delivery
// maps: then it answers 'takeover' and the caller asks acceptScript again.
//
// KEYS: 1 the first delivery's record. ARGV: 1 "1" when this delivery maps.
// Returns {'dup', <recordFields>}, {'takeover'}, or {'gone'} (the record
// expired but its claim lives on: still a duplicate).
//
// The counter is incremented with pcall: under maxmemory a redelivery is
// still answered as a duplicate, uncounted.
var dupScript = script(dupLua)

const dupLua = `
local f = record(KEYS[1])
if not f[1] then return {'gone'} end
if ARGV[1] == '1' and redis.call('HGET', KEYS[1], F.mf) == '1' then return {'takeover'} end
local n = redis.pcall('HINCRBY', KEYS[1], F.dups, 1)
if type(n) == 'number' then f[4] = tostring(n) end
return {'dup', unpack(f)}
`

// begin moves a queued event to dialing before its call and takes its
// agent's pacing slot.
//
// KEYS: 1 record, 2 queue, 3 the queued index, 4 the dialing index, 5 the
// unknown index, 6 due; optional (positions in ARGV[8..9]): the agent's
// slot, the agent's waiters.
// ARGV: 1 id, 2 queue entry, 3 hold ms, 4 now ms, 5 token, 6 group, 7 the
// agent the caller named (from the queue entry), 8-9 optional key positions.
// Returns {result, doc, state, attempts, dups[, due ms]} with result dial,
// interrupted, skip, busy or enrich; {'skip'} for a missing record; {'agent',
// name} when the record's agent is not the one named (the caller asks
// again with that agent's keys).
//
// An event already dialing under the same token is this attempt's own
// begin asked again: it answers 'dial' again. One dialing under another
// token was left by a worker that died mid-call: it becomes unknown.
var beginScript = script(beginLua)

const beginLua = `
local ev, q, id, grp = KEYS[1], KEYS[2], ARGV[1], ARGV[6]
local f = redis.call('HMGET', ev, F.doc, F.state, F.attempts, F.dups, F.rcv, F.agent, F.tok, F.enrich)
local st = f[2]
if not st then
  ack(q, grp, ARGV[2])
  return {'skip'}
end
if st == 'dialing' and ARGV[5] ~= '' and f[7] == ARGV[5] then return {'dial', f[1], 'dialing', f[3], f[4]} end
if st == 'dialing' then
  move(id, KEYS[4], KEYS[5], f[5])
  redis.call('HSET', ev, F.state, 'unknown')
  ack(q, grp, ARGV[2])
  return {'interrupted', f[1], 'unknown', f[3], f[4]}
end
if st ~= 'queued' then
  ack(q, grp, ARGV[2])
  return {'skip', f[1], f[2], f[3], f[4]}
end
if f[8] == '1' then return {'enrich', f[1], f[2], f[3], f[4]} end
local agent = f[6] or ''
if agent ~= ARGV[7] then return {'agent', agent} end
local akey, wkey = opt(8), opt(9)
if akey then
  if redis.call('SET', akey, id, 'NX', 'PX', ARGV[3]) == false and redis.call('GET', akey) ~= id then
    local wait = redis.call('PTTL', akey)
    if wait < 1 then wait = 50 end
    local due = tonumber(ARGV[4]) + wait
    redis.call('ZADD', KEYS[6], due, id)
    -- finish wakes the agent's waiters when the call ends, before the hold runs out
    redis.call('SADD', wkey, id)
    redis.call('PEXPIRE', wkey, wait + 60000)
    ack(q, grp, ARGV[2])
    return {'busy', f[1], f[2], f[3], f[4], tostring(due)}
  end
end
local n = (tonumber(f[3]) or 0) + 1
move(id, KEYS[3], KEYS[4], f[5])
redis.call('HSET', ev, F.state, 'dialing', F.attempts, n, F.tok, ARGV[5])
return {'dial', f[1], 'dialing', tostring(n), f[4]}
`

// finish records the outcome of a dialing event, releases its agent and
// acknowledges its queue entry.
//
// KEYS: 1 record, 2 queue, 3 the dialing index, 4 the index of ARGV[3], 5
// due; optional (positions in ARGV[12..14]): the GUID index entry, the
// agent's slot, the agent's waiters.
// ARGV: 1 id, 2 queue entry ("": none), 3 state, 4 doc, 5 due ms, 6 gap ms,
// 7 now ms, 8 retention ms, 9 token, 10 group, 11 received ms (unused:
// read from the record), 12-14 optional key positions.
// Returns {'ok', state, attempts, dups} or {'conflict', <recordFields>}.
//
// The caller built doc from the record Begin answered; the script checks
// the event is still dialing. One no longer dialing whose finish token is
// the caller's was finished by this attempt already (its answer was lost):
// 'ok' again. (Begin's token would not do: a reclaim that finds the event
// dialing turns it unknown without changing it.)
var finishScript = script(finishLua)

const finishLua = `
local ev, q, id, grp = KEYS[1], KEYS[2], ARGV[1], ARGV[10]
local gkey, akey, wkey = opt(12), opt(13), opt(14)
local f = redis.call('HMGET', ev, F.state, F.attempts, F.dups, F.rcv, F.ftok)
if akey and redis.call('GET', akey) == id then
  if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', akey, ARGV[6]) else redis.call('DEL', akey) end
  -- the agent is free once its gap is over: its waiting events are due then
  local at = tonumber(ARGV[7]) + tonumber(ARGV[6])
  local ws = redis.call('SMEMBERS', wkey)
  if #ws > 0 then
    for _, w in ipairs(ws) do
      local s = redis.call('ZSCORE', KEYS[5], w)
      if s and tonumber(s) > at then redis.call('ZADD', KEYS[5], at, w) end
    end
    redis.call('DEL', wkey)
  end
end
if f[1] ~= 'dialing' then
  if ARGV[2] ~= '' then ack(q, grp, ARGV[2]) end
  if f[1] and ARGV[9] ~= '' and f[5] == ARGV[9] then return {'ok', f[1], f[2], f[3]} end
  return {'conflict', unpack(record(ev))}
end
redis.call('HSET', ev, F.doc, ARGV[4], F.state, ARGV[3], F.ftok, ARGV[9])
move(id, KEYS[3], KEYS[4], f[4])
if gkey then
  -- the GUID lives as long as the record: received + retention (EXPIRE at accept)
  local exp = (tonumber(f[4]) or 0) + tonumber(ARGV[8])
  if exp > tonumber(ARGV[7]) then
    redis.call('SET', gkey, id, 'PXAT', exp)
  else
    redis.call('SET', gkey, id, 'EX', math.max(redis.call('TTL', ev), 1))
  end
end
if ARGV[3] == 'queued' or ARGV[3] == 'scheduled' then redis.call('ZADD', KEYS[5], ARGV[5], id) end
if ARGV[2] ~= '' then ack(q, grp, ARGV[2]) end
return {'ok', ARGV[3], f[2], f[3]}
`

// enriched records what the enricher made of an event waiting for it.
//
// KEYS: 1 record, 2 queue, 3 the queued index, 4 the index of ARGV[3], 5 due.
// ARGV: 1 id, 2 queue entry, 3 state, 4 doc, 5 agent, 6 due ms, 7 mapping
// failed ("1"/""), 8 group.
// Returns {'ok', state, attempts, dups} or {'conflict', <recordFields>}.
//
// The event must still be queued and waiting. Queued with no due time: the
// record gets its params (and agent) and goes on, its queue entry still
// pending with the caller; queued with a due time: it waits for then; any
// other state ends it.
var enrichedScript = script(enrichedLua)

const enrichedLua = `
local ev, q, id, grp = KEYS[1], KEYS[2], ARGV[1], ARGV[8]
local f = redis.call('HMGET', ev, F.state, F.attempts, F.dups, F.rcv, F.enrich)
if f[1] ~= 'queued' or f[5] ~= '1' then return {'conflict', unpack(record(ev))} end
if ARGV[3] == 'queued' and ARGV[6] == '0' then
  redis.call('HSET', ev, F.doc, ARGV[4], F.agent, ARGV[5], F.enrich, '')
elseif ARGV[3] == 'queued' then
  redis.call('HSET', ev, F.doc, ARGV[4])
  redis.call('ZADD', KEYS[5], ARGV[6], id)
  ack(q, grp, ARGV[2])
else
  redis.call('HSET', ev, F.doc, ARGV[4], F.state, ARGV[3], F.mf, ARGV[7])
  move(id, KEYS[3], KEYS[4], f[4])
  ack(q, grp, ARGV[2])
end
return {'ok', ARGV[3], f[2], f[3]}
`

// promote moves one due event into the queue (the caller found it due).
//
// KEYS: 1 record, 2 queue, 3 the scheduled index, 4 the queued index, 5 due.
// ARGV: 1 id, 2 now ms.
// Returns 1 when queued, 0 when it was no longer due or waiting.
var promoteScript = script(promoteLua)

const promoteLua = `
local ev, id = KEYS[1], ARGV[1]
local due = redis.call('ZSCORE', KEYS[5], id)
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[5], id)
local f = redis.call('HMGET', ev, F.state, F.rcv, F.agent)
if f[1] ~= 'scheduled' and f[1] ~= 'queued' then return 0 end
if f[1] == 'scheduled' then
  move(id, KEYS[3], KEYS[4], f[2])
  redis.call('HSET', ev, F.state, 'queued')
end
redis.call('XADD', KEYS[2], '*', 'id', id, 'agent', f[3] or '')
return 1
`

// redial puts an unknown, failed or rejected event back in the queue.
//
// KEYS: 1 record, 2 the index of ARGV[3], 3 the queued index, 4 queue.
// ARGV: 1 id, 2 doc, 3 expected state, 4 expected attempts.
// Returns {'ok', <recordFields>}, {'missing'}, {'changed'} (the record is
// not as the caller read it: read again), {'mapping_failed',
// <recordFields>} or {'conflict', <recordFields>}.
//
// The caller built doc from the record it read; the redial rule
// (store.Redialable) is checked here, atomically with the change.
var redialScript = script(redialLua)

const redialLua = `
local ev, id = KEYS[1], ARGV[1]
local f = record(ev)
if not f[2] then return {'missing'} end
if f[2] ~= ARGV[3] or (f[3] or '0') ~= ARGV[4] then return {'changed'} end
if f[2] == 'rejected' and redis.call('HGET', ev, F.mf) == '1' then return {'mapping_failed', unpack(f)} end
if f[2] ~= 'unknown' and f[2] ~= 'failed' and f[2] ~= 'rejected' then return {'conflict', unpack(f)} end
move(id, KEYS[2], KEYS[3], redis.call('HGET', ev, F.rcv))
redis.call('HSET', ev, F.doc, ARGV[2], F.state, 'queued')
redis.call('XADD', KEYS[4], '*', 'id', id, 'agent', redis.call('HGET', ev, F.agent) or '')
f[1], f[2] = ARGV[2], 'queued'
return {'ok', unpack(f)}
`

// scripts are every script, loaded at start-up and again on NOSCRIPT.
var scripts = []*redis.Script{acceptScript, dupScript, beginScript, finishScript, enrichedScript, promoteScript, redialScript}
