package store

// keys names every Redis key of one namespace. No other package spells a
// key: the bench and the tests go through the store's API.
//
// Every key carries the hash tag {dh}, so that one script can touch the
// claim, the record, the queue and the indexes of an event in one atomic
// step on Redis Cluster, where a script's keys must share a slot. Scripts
// receive every key they touch in KEYS, built here; none builds a key name
// itself.
type keys struct{ p string }

func newKeys(ns string) keys { return keys{p: ns + ":{dh}:"} }

func (k keys) ev(id string) string        { return k.p + "ev:" + id }        // the event record (hash)
func (k keys) dedup(key string) string    { return k.p + "dedup:" + key }    // dedup claim → event id
func (k keys) cool(key string) string     { return k.p + "cool:" + key }     // cooldown claim → event id
func (k keys) guid(guid string) string    { return k.p + "guid:" + guid }    // call GUID → event id
func (k keys) state(s State) string       { return k.p + "st:" + string(s) } // events in a state, by received time
func (k keys) agent(name string) string   { return k.p + "agent:" + name }   // an agent's pacing slot → event id
func (k keys) waiters(name string) string { return k.p + "agentw:" + name }  // events waiting for the agent
func (k keys) queue() string              { return k.p + "q" }               // the stream of events to dial
func (k keys) due() string                { return k.p + "due" }             // scheduled events and retries, by due time

// group is the queue's consumer group.
const group = "dialhook"
