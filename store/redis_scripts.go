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
	fDupAt    = "dupat"    // when the last duplicate was recognised, ms
	fReq      = "req"      // the request as received (JSON), until inspect.retention
	fFind     = "find"     // the event's search index members, "\n"-separated (for forget)
	fVer      = "ver"      // rewrites by call events so far (callScript checks it)
)

// recordFields are the fields Get, List and the scripts' record() answer, in
// this order; decode reads them back. The Lua table F is built from the
// same constants (TestLuaKnowsEveryField checks it has each): no script
// spells a field name.
var recordFields = []string{fDoc, fState, fAttempts, fDups, fSup, fSupBy, fDupAt}

// luaLib is prepended to every script: F names the fields, RECORD lists
// recordFields, record() reads them, REDIAL is the set of redialFrom
// (the states a redial may start from), move() changes an event's index and
// opt() reads an optional key.
var luaLib = func() string {
	var b strings.Builder
	b.WriteString("local F = {")
	for _, f := range []string{fDoc, fState, fAttempts, fDups, fSup, fSupBy, fRcv, fAgent, fMF, fTok, fFTok, fEnrich, fDupAt, fReq, fFind, fVer} {
		fmt.Fprintf(&b, "%s=%q, ", f, f)
	}
	b.WriteString("}\nlocal REDIAL = {")
	for _, st := range redialFrom {
		fmt.Fprintf(&b, "[%q]=true, ", st)
	}
	b.WriteString("}\nlocal RECORD = {")
	for _, f := range recordFields {
		fmt.Fprintf(&b, "%q, ", f)
	}
	b.WriteString(`}
local function record(key) return redis.call('HMGET', key, unpack(RECORD)) end
local function move(id, from, to, score)
  if from == to then return end
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

// The scripts keep every change of one event atomic and within its shard's
// slot. Command budgets, in all (the EVALSHA counted): accept 5 for a new
// event (EVALSHA, SET NX GET, HSET, ZADD, XADD); a placed call 10 (XREADGROUP,
// SET of the agent's slot, EVALSHA begin with HMGET and HSET, EVALSHA
// finish with XACK, HSET and the GUID's SET, DEL of the agent's slot).
// What makes that possible:
//   - records carry no TTL (no EXPIRE): the housekeeping deletes those past
//     retention by their index (see trim);
//   - queued, dialing and placed events share one index (live), so the
//     happy path never moves an event between indexes;
//   - a queue entry is acknowledged (XACK), not deleted, and the
//     housekeeping trims acknowledged entries (XTRIM MINID).

// accept records one new event, or finds its duplicate.
//
// KEYS: 1 record, 2 queue, 3 the index of ARGV[3], 4 due, 5 the shard's
// search index; optional (positions in ARGV[9..10], 0 when absent): the
// dedup claim, the superseded event's record.
// ARGV: 1 id, 2 doc, 3 state, 4 dedup TTL ms, 5 received ms, 6 due ms,
// 7 agent, 8 flags ("m" mapping failed, "e" enrich), 9-10 optional key
// positions, 11 the event whose claim to take over, 12 the request as
// received ("" : none kept), 13.. the event's search index members (none:
// no search index; the console's, one ZADD).
// Returns {'new', id, state, superseded id} or {'dup', id} (the caller
// reads the record with dupScript).
//
// The claim is taken with SET NX GET: one command claims or names the
// holder. Idempotent by id: a claim (or, without one, a record) that
// already names this id means the script ran before and its answer was
// lost: it answers as it did then. Taking over a mapping rejection's claim
// needs its record in KEYS: the caller learns it from dupScript and asks
// again. The queue's length (queue_max) and the cooldown are checked by
// the caller before: they are not this event's keys.
var acceptScript = script(acceptLua)

const acceptLua = `
local ev, q, idx, id = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local dedup, oldKey = opt(9), opt(10)
local sup = ''
if dedup then
  local old = redis.call('SET', dedup, id, 'NX', 'PX', ARGV[4], 'GET')
  if old == id then return {'new', id, redis.call('HGET', ev, F.state) or ARGV[3], redis.call('HGET', ev, F.sup) or ''} end
  if old then
    if not (oldKey and old == ARGV[11] and string.find(ARGV[8], 'm', 1, true) == nil and redis.call('HGET', oldKey, F.mf) == '1') then
      return {'dup', old}
    end
    redis.call('SET', dedup, id, 'PX', ARGV[4])
    redis.call('HSET', oldKey, F.supby, id)
    sup = old
  end
elseif redis.call('EXISTS', ev) == 1 then
  return {'new', id, redis.call('HGET', ev, F.state), redis.call('HGET', ev, F.sup) or ''}
end
local state = ARGV[3]
local mf, enrich = '', ''
if string.find(ARGV[8], 'm', 1, true) then mf = '1' end
if string.find(ARGV[8], 'e', 1, true) then enrich = '1' end
local h = {F.doc, ARGV[2], F.state, state, F.attempts, 0, F.dups, 0, F.rcv, ARGV[5], F.agent, ARGV[7],
  F.mf, mf, F.sup, sup, F.enrich, enrich}
if ARGV[12] ~= '' then h[#h+1] = F.req; h[#h+1] = ARGV[12] end
if #ARGV > 12 then
  local z, m = {}, {}
  for i = 13, #ARGV do z[#z+1] = 0; z[#z+1] = ARGV[i]; m[#m+1] = ARGV[i] end
  h[#h+1] = F.find; h[#h+1] = table.concat(m, '\n')
  redis.call('ZADD', KEYS[5], unpack(z))
end
redis.call('HSET', ev, unpack(h))
redis.call('ZADD', idx, ARGV[5], id)
if state == 'queued' then redis.call('XADD', q, '*', 'id', id, 'agent', ARGV[7]) end
if state == 'scheduled' then redis.call('ZADD', KEYS[4], ARGV[6], id) end
return {'new', id, state, sup}
`

// dup reads the event a duplicate delivery repeats and counts the
// delivery, unless the event was rejected by its mapping and this delivery
// maps: then it answers 'takeover' and the caller asks acceptScript again.
//
// KEYS: 1 the first delivery's record. ARGV: 1 "1" when this delivery
// maps, 2 now (ms).
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
if type(n) == 'number' then
  f[4] = tostring(n)
  redis.pcall('HSET', KEYS[1], F.dupat, ARGV[2])
  f[7] = ARGV[2]
end
return {'dup', unpack(f)}
`

// begin moves a queued event to dialing before its call. The caller holds
// the agent's pacing slot already (see Redis.Begin).
//
// KEYS: 1 record, 2 queue, 3 the pending index, 4 the unknown index.
// ARGV: 1 id, 2 queue entry, 3 token, 4 group, 5 the agent the caller named
// (from the queue entry).
// Returns {result, doc, state, attempts, dups} with result dial,
// interrupted, skip or enrich; {'skip'} for a missing record; {'agent',
// name} when the record's agent is not the one named (the caller asks
// again with that agent).
//
// An event already dialing under the same token is this attempt's own
// begin asked again: it answers 'dial' again. One dialing under another
// token was left by a worker that died mid-call: it becomes unknown.
var beginScript = script(beginLua)

const beginLua = `
local ev, q, id, grp = KEYS[1], KEYS[2], ARGV[1], ARGV[4]
local f = redis.call('HMGET', ev, F.doc, F.state, F.attempts, F.dups, F.rcv, F.agent, F.tok, F.enrich)
local st = f[2]
if not st then
  redis.call('XACK', q, grp, ARGV[2])
  return {'skip'}
end
if st == 'dialing' and ARGV[3] ~= '' and f[7] == ARGV[3] then return {'dial', f[1], 'dialing', f[3], f[4]} end
if st == 'dialing' then
  move(id, KEYS[3], KEYS[4], f[5])
  redis.call('HSET', ev, F.state, 'unknown')
  redis.call('XACK', q, grp, ARGV[2])
  return {'interrupted', f[1], 'unknown', f[3], f[4]}
end
if st ~= 'queued' then
  redis.call('XACK', q, grp, ARGV[2])
  return {'skip', f[1], f[2], f[3], f[4]}
end
if f[8] == '1' then return {'enrich', f[1], f[2], f[3], f[4]} end
if (f[6] or '') ~= ARGV[5] then return {'agent', f[6] or ''} end
local n = (tonumber(f[3]) or 0) + 1
redis.call('HSET', ev, F.state, 'dialing', F.attempts, n, F.tok, ARGV[3])
return {'dial', f[1], 'dialing', tostring(n), f[4]}
`

// busy puts a queued event back to wait for its agent, who is in a call or
// within its gap: due at ARGV[3], its queue entry acknowledged.
//
// KEYS: 1 record, 2 queue, 3 due. ARGV: 1 id, 2 queue entry, 3 due ms,
// 4 group.
// Returns {'busy', doc, state, attempts, dups} or {'skip', …} when the
// event is no longer queued.
var busyScript = script(busyLua)

const busyLua = `
local f = record(KEYS[1])
redis.call('XACK', KEYS[2], ARGV[4], ARGV[2])
if f[2] ~= 'queued' then return {'skip', f[1], f[2], f[3], f[4]} end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return {'busy', f[1], f[2], f[3], f[4]}
`

// finish records the outcome of a dialing event and acknowledges its queue
// entry.
//
// KEYS: 1 record, 2 queue, 3 the pending index, 4 the index of ARGV[3],
// 5 due; optional (positions in ARGV[11..12]): the GUID index entry, the
// notification queue (when a notification of type ARGV[13] is queued).
// ARGV: 1 id, 2 queue entry, 3 state, 4 doc, 5 due ms, 6 now ms, 7 GUID
// expiry ms (received + retention), 8 token, 9 group, 10 received ms,
// 11-12 optional key positions, 13 the notification type.
// Returns {'ok', state} or {'conflict', <recordFields>}.
//
// Acknowledging the entry is the check: it is still pending only while the
// event is dialing under this delivery (a reclaim that found it dialing
// turned it unknown and acknowledged it; a redial queues a new entry). An
// entry acknowledged already, whose record's finish token is the caller's,
// was finished by this attempt (its answer was lost): 'ok' again.
var finishScript = script(finishLua)

const finishLua = `
local ev, q, id = KEYS[1], KEYS[2], ARGV[1]
if redis.call('XACK', q, ARGV[9], ARGV[2]) == 0 then
  local f = redis.call('HMGET', ev, F.state, F.ftok)
  if f[1] and ARGV[8] ~= '' and f[2] == ARGV[8] then return {'ok', f[1]} end
  return {'conflict', unpack(record(ev))}
end
redis.call('HSET', ev, F.doc, ARGV[4], F.state, ARGV[3], F.ftok, ARGV[8])
if ARGV[3] == 'queued' then
  redis.call('ZADD', KEYS[5], ARGV[5], id)
else
  move(id, KEYS[3], KEYS[4], ARGV[10])
  if ARGV[3] == 'scheduled' then redis.call('ZADD', KEYS[5], ARGV[5], id) end
end
local gkey = opt(11)
if gkey then
  redis.call('SET', gkey, id, 'PXAT', math.max(tonumber(ARGV[7]), tonumber(ARGV[6]) + 1000))
end
local nq = opt(12)
if nq then redis.call('XADD', nq, '*', 'id', id, 'type', ARGV[13]) end
return {'ok', ARGV[3]}
`

// enriched records what the enricher made of an event waiting for it.
//
// KEYS: 1 record, 2 queue, 3 the pending index, 4 the index of ARGV[3], 5 due.
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
  redis.call('XACK', q, grp, ARGV[2])
else
  redis.call('HSET', ev, F.doc, ARGV[4], F.state, ARGV[3], F.mf, ARGV[7])
  move(id, KEYS[3], KEYS[4], f[4])
  redis.call('XACK', q, grp, ARGV[2])
end
return {'ok', ARGV[3], f[2], f[3]}
`

// promote moves one due event into the queue (the caller found it due).
//
// KEYS: 1 record, 2 queue, 3 the scheduled index, 4 the pending index, 5 due.
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

// redial puts an event in a state of REDIAL (redialFrom: unknown, failed,
// rejected) back in the queue, a placed one too when ARGV[5] says its call
// was a dry run; a mapping rejection never (Redialable is the same rule).
//
// KEYS: 1 record, 2 the index of ARGV[3], 3 the pending index, 4 queue.
// ARGV: 1 id, 2 doc, 3 expected state, 4 expected attempts, 5 "1": placed
// by a dry run.
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
if not REDIAL[f[2]] and not (f[2] == 'placed' and ARGV[5] == '1') then
  return {'conflict', unpack(f)}
end
move(id, KEYS[2], KEYS[3], redis.call('HGET', ev, F.rcv))
redis.call('HSET', ev, F.doc, ARGV[2], F.state, 'queued')
redis.call('XADD', KEYS[4], '*', 'id', id, 'agent', redis.call('HGET', ev, F.agent) or '')
f[1], f[2] = ARGV[2], 'queued'
return {'ok', unpack(f)}
`

// call records a uContact call event: the record's doc and state, if the
// record is as the caller read it.
//
// KEYS: 1 record, 2 the index of ARGV[3], 3 the index of ARGV[5], 4 queue,
// 5 the notification queue.
// ARGV: 1 id, 2 doc, 3 expected state, 4 expected version, 5 new state,
// 6 "1": put it back in the queue, 7 the notification to queue ("": none).
// Returns 'ok', 'changed' (read it again) or 'missing'.
var callScript = script(callLua)

const callLua = `
local ev, id = KEYS[1], ARGV[1]
local f = redis.call('HMGET', ev, F.state, F.ver, F.rcv, F.agent)
if not f[1] then return 'missing' end
if f[1] ~= ARGV[3] or (f[2] or '0') ~= ARGV[4] then return 'changed' end
move(id, KEYS[2], KEYS[3], f[3])
redis.call('HSET', ev, F.doc, ARGV[2], F.state, ARGV[5])
redis.call('HINCRBY', ev, F.ver, 1)
if ARGV[6] == '1' then redis.call('XADD', KEYS[4], '*', 'id', id, 'agent', f[4] or '') end
if ARGV[7] ~= '' then redis.call('XADD', KEYS[5], '*', 'id', id, 'type', ARGV[7]) end
return 'ok'
`

// promoteJobs moves due notification retries back into their queue.
//
// KEYS: 1 the shard's notification due set, 2 its notification queue.
// ARGV: 1 now ms, 2 at most this many. Returns how many it moved.
var promoteJobsScript = script(promoteJobsLua)

const promoteJobsLua = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local j = cjson.decode(m)
  redis.call('XADD', KEYS[2], '*', 'id', j.id, 'type', j.t, 'ep', j.ep, 'tries', tostring(j.n), 'first', tostring(j.f))
  redis.call('ZREM', KEYS[1], m)
end
return #due
`

// cap counts an event against its destination's cap.
//
// KEYS: 1 the number's counted events (sorted by time). ARGV: 1 now ms,
// 2 the period ms, 3 the maximum, 4 the event's dedup key (or id).
// Returns 1 when counted (or counted before: a redelivery), 0 when the cap
// is reached.
var capScript = script(capLua)

const capLua = `
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZSCORE', key, ARGV[4]) then return 1 end
if redis.call('ZCARD', key) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', key, ARGV[1], ARGV[4])
redis.call('PEXPIRE', key, ARGV[2])
return 1
`

// release frees an agent's pacing slot if this event holds it (a begin
// that did not dial).
//
// KEYS: 1 the agent's slot. ARGV: 1 the event id. Returns 1.
var releaseScript = script(releaseLua)

const releaseLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`

// probe is Ready's check that a shard can take a write through a script
// now (scripts loaded, the node a writable master of the slot).
//
// KEYS: 1 the shard's probe key. ARGV: none. Returns 1.
var probeScript = script(probeLua)

const probeLua = `
redis.call('SET', KEYS[1], '1', 'PX', 1000)
return 1
`

// keep makes a queue entry fresh again (idle 0) if it is still pending
// for the consumer named, so that no reclaim takes it over.
//
// KEYS: 1 queue. ARGV: 1 group, 2 entry, 3 consumer.
// Returns 1 when kept, 0 when the entry is acknowledged or another
// consumer's.
var keepScript = script(keepLua)

const keepLua = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
`

// scripts are every script, loaded at start-up and again on NOSCRIPT.
var scripts = []*redis.Script{acceptScript, dupScript, beginScript, busyScript, finishScript, enrichedScript, callScript, promoteJobsScript, capScript,
	promoteScript, redialScript, releaseScript, probeScript, keepScript}
