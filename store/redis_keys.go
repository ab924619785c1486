package store

import (
	"encoding/hex"
	"hash/fnv"
	"strconv"

	"github.com/google/uuid"
)

// keys names every Redis key of one namespace. No other package spells a
// key: the bench and the tests go through the store's API.
//
// Events are spread over shards by a hash of their dedup key. Every key of
// one event — its dedup claim, record, GUID index entry, queue entry and
// the state and due indexes it is in — carries its shard's hash tag
// ({dh:7}), so each script touches one slot of a Redis Cluster, and the
// shards spread over its masters. An event's id names its shard (its first
// byte), so that the record is found from the id alone.
//
// Two kinds of keys are not an event's and carry tags of their own, so
// that they spread too: an agent's pacing slot ({a:NAME}) and a cooldown
// claim ({c:SOURCE:NUMBER}). They are claimed in a step of their own, before
// the event's script (see Begin and Accept).
type keys struct {
	ns     string
	shards []shardKeys
}

// shardKeys are the keys of one shard.
type shardKeys struct{ p string }

// maxShards: an event id's first byte names its shard.
const maxShards = 256

func newKeys(ns string, shards int) keys {
	k := keys{ns: ns, shards: make([]shardKeys, shards)}
	for i := range k.shards {
		k.shards[i] = shardKeys{p: ns + ":{dh:" + strconv.Itoa(i) + "}:"}
	}
	return k
}

// shardOf is the shard of a dedup key.
func (k keys) shardOf(dedupKey string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(dedupKey))
	return int(h.Sum32() % uint32(len(k.shards)))
}

// newID is a new event id (a random UUID) whose first byte names shard.
func newID(shard int) string {
	u := uuid.New()
	u[0] = byte(shard)
	return u.String()
}

// shardOfID is the shard an event id names; false for an id this store
// did not make (it cannot be found).
func (k keys) shardOfID(id string) (int, bool) {
	if len(id) < 2 {
		return 0, false
	}
	b, err := hex.DecodeString(id[:2])
	if err != nil || int(b[0]) >= len(k.shards) {
		return 0, false
	}
	return int(b[0]), true
}

// of returns the keys of the shard an event id names.
func (k keys) of(id string) (shardKeys, bool) {
	s, ok := k.shardOfID(id)
	if !ok {
		return shardKeys{}, false
	}
	return k.shards[s], true
}

func (k keys) agent(name string) string      { return k.ns + ":{a:" + name + "}" }        // an agent's pacing slot
func (k keys) cool(key string) string        { return k.ns + ":{c:" + key + "}" }         // cooldown claim → dedup key
func (k keys) agentLast(name string) string  { return k.ns + ":{a:" + name + "}:last" }   // the agent's last placed call (AgentRingNoAnswer)
func (k keys) endpointOff(key string) string { return k.ns + ":{n:" + key + "}:off" }     // a notify endpoint that answered 410
func (k keys) dncAt() string                 { return k.ns + ":{dnc}:at" }                // do-not-call: number → entry (hash)
func (k keys) dncIdx() string                { return k.ns + ":{dnc}:idx" }               // do-not-call: the numbers, by lexical order
func (k keys) dncFlag() string               { return k.ns + ":{dnc}:on" }                // set once a number was ever added
func (k keys) capKey(number string) string   { return k.ns + ":{cap:" + number + "}" }    // a destination's counted events
func (k keys) callEvent(key string) string   { return k.ns + ":{u:" + key + "}" }         // a uContact event delivery seen
func (k keys) meta() string                  { return k.ns + ":{dh:meta}" }               // the layout: shards
func (k keys) legacyQueue() string           { return k.ns + ":{dh}:q" }                  // the queue of the one-slot layout
func (k keys) refused(src string) string     { return k.ns + ":{r:" + src + "}:refused" } // a source's refused deliveries (list)
func (k keys) activity(src string) string    { return k.ns + ":{r:" + src + "}:act" }     // a source's counts per hour (hash)
func (k keys) sources() string               { return k.ns + ":{r}:sources" }             // the sources that reported activity (set)

func (s shardKeys) ev(id string) string     { return s.p + "ev:" + id }                  // the event record (hash)
func (s shardKeys) dedup(key string) string { return s.p + "dedup:" + key }              // dedup claim → event id
func (s shardKeys) guid(guid string) string { return s.p + "guid:" + guid }              // call GUID → event id
func (s shardKeys) index(st State) string   { return s.p + "st:" + string(indexOf(st)) } // events in a state, by received time
func (s shardKeys) queue() string           { return s.p + "q" }                         // the stream of events to dial
func (s shardKeys) due() string             { return s.p + "due" }                       // scheduled events and retries, by due time
func (s shardKeys) probe() string           { return s.p + "probe" }                     // written by Ready's probe
func (s shardKeys) nq() string              { return s.p + "nq" }                        // notifications to deliver (stream)
func (s shardKeys) nqDue() string           { return s.p + "nqdue" }                     // notification retries, by due time
func (s shardKeys) notifs(id string) string { return s.p + "ntf:" + id }                 // an event's notification attempts (list)
func (s shardKeys) find() string            { return s.p + "find" }                      // the console's search index (lexical)

// liveIndex holds queued, dialing and placed events in one index: an
// event moves between these states on every call, and sharing the index
// spares the dial path a ZREM and a ZADD. Listings and counts tell them
// apart by the record's state and the queues' counters. The other states
// (scheduled, and the ends that want attention) have an index each.
const liveIndex State = "live"

// indexOf is the index a state's events are kept in.
func indexOf(s State) State {
	if s == Queued || s == Dialing || s == Placed {
		return liveIndex
	}
	return s
}

// group is the queue's consumer group.
const group = "dialhook"
