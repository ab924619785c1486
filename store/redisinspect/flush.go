package redisinspect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrForeignKeys is FlushDB's answer for a database that holds keys the
// harness did not write (no marker): nothing was deleted.
var ErrForeignKeys = errors.New("the database holds keys the load harness did not write")

// markerKey marks a database as the harness's own. It is outside every
// dialhook namespace (whose keys all carry a {dh:N} hash tag). On a Cluster
// each master has a marker of its own, markerKey:{mN} in one of its slots.
const markerKey = "dialhook-bench:owner"

const markerValue = "written by dialhook's load harness (go run ./bench), which empties this database at each run"

// foreignKeys counts the keys of a database that is neither empty nor
// marked; it changes nothing.
//
// KEYS[1] the marker. Returns the number of keys, or -1 when the database
// is empty or marked.
var foreignKeys = redis.NewScript(`
local n = redis.call('DBSIZE')
if n > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  return n
end
return -1
`)

// flushOwned empties the database when it is empty, carries the marker, or
// ARGV[2] is "1", then writes the marker; atomically, so that no key written
// between the check and the flush is lost unasked.
//
// KEYS[1] the marker; ARGV[1] its value, ARGV[2] "1" to flush in any case.
// Returns -1 when it flushed, else the number of keys (nothing changed).
var flushOwned = redis.NewScript(`
local n = redis.call('DBSIZE')
if n > 0 and ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  return n
end
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[1])
return -1
`)

// FlushDB empties the database for a run and marks it as the harness's:
// at once when it is empty or already marked; when it holds other keys,
// only if force is set, and otherwise it returns an error wrapping
// ErrForeignKeys that says how many keys it holds (on a Cluster, on which
// masters), and deletes nothing. On a Cluster every master is checked
// before any is emptied, and each is emptied and marked atomically.
func (in *Inspector) FlushDB(ctx context.Context, force bool) error {
	if !force {
		var foreign []string
		for _, n := range in.nodes {
			c, err := foreignKeys.Run(ctx, n.rdb, []string{n.marker}).Int64()
			if err != nil {
				return fmt.Errorf("redisinspect: check %s: %w", in.where(n), err)
			}
			if c >= 0 {
				foreign = append(foreign, in.keysIn(n, c))
			}
		}
		if len(foreign) > 0 {
			return fmt.Errorf("%w (%s)", ErrForeignKeys, strings.Join(foreign, ", "))
		}
	}
	f := "0"
	if force {
		f = "1"
	}
	for _, n := range in.nodes {
		c, err := flushOwned.Run(ctx, n.rdb, []string{n.marker}, markerValue, f).Int64()
		if err != nil {
			return fmt.Errorf("redisinspect: flush %s: %w", in.where(n), err)
		}
		if c >= 0 { // keys written since the check
			return fmt.Errorf("%w (%s)", ErrForeignKeys, in.keysIn(n, c))
		}
	}
	return nil
}

// where names a node in errors: its database, or the master's address.
func (in *Inspector) where(n *node) string {
	if in.cluster {
		return "master " + n.opt.Addr
	}
	return fmt.Sprintf("database %d", n.opt.DB)
}

func (in *Inspector) keysIn(n *node, c int64) string {
	keys := "keys"
	if c == 1 {
		keys = "key"
	}
	if in.cluster {
		return fmt.Sprintf("%d %s on master %s", c, keys, n.opt.Addr)
	}
	return fmt.Sprintf("%d %s in database %d", c, keys, n.opt.DB)
}
