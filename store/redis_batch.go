package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// The batcher. Every script call of the webhook and dial paths goes
// through one goroutine, which takes every call waiting (one at least, it
// never waits to fill a batch) and sends their commands in one pipeline:
// one write and one read for many webhooks. Each script stays atomic on its
// own; batching only shares the round trip.

// maxBatch bounds the commands the batcher sends in one pipeline.
const maxBatch = 128

// batchCall is one caller waiting for the batcher. durable: its writes
// count only once a replica has them (durability replicated).
type batchCall struct {
	ctx     context.Context
	cmds    []*redis.Cmd
	durable bool
	done    chan error // buffered: the batcher never waits for the caller
}

var errClosed = fmt.Errorf("%w: store closed", ErrUnavailable)

func loadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, sc := range scripts {
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

// withOptional appends the optional keys that are set to keys, and returns
// their 1-based positions in KEYS (0: absent), as the scripts' opt() reads
// them from ARGV: no script is ever given an empty key name.
func withOptional(keys []string, optional ...string) ([]string, []any) {
	pos := make([]any, len(optional))
	for i, k := range optional {
		pos[i] = 0
		if k != "" {
			keys = append(keys, k)
			pos[i] = len(keys)
		}
	}
	return keys, pos
}

// send hands cmds to the batcher and waits for their answers. When ctx
// ends first, the commands may still run: the caller answers an error, the
// sender retries, and a recorded event becomes a duplicate.
func (r *Redis) send(ctx context.Context, cmds ...*redis.Cmd) error {
	return r.sendCall(ctx, false, cmds)
}

// sendDurable is send for writes that must reach a replica before they
// count (durability replicated: accept, and begin before a call): the
// batch is followed by WAIT on the same connection, and when no replica
// acknowledged it in time every command answers ErrNotReplicated.
func (r *Redis) sendDurable(ctx context.Context, cmds ...*redis.Cmd) error {
	return r.sendCall(ctx, r.replicated, cmds)
}

func (r *Redis) sendCall(ctx context.Context, durable bool, cmds []*redis.Cmd) error {
	c := &batchCall{ctx: ctx, cmds: cmds, durable: durable, done: make(chan error, 1)}
	select {
	case r.batchq <- c:
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

// batchLoop is the batcher.
func (r *Redis) batchLoop() {
	defer r.loops.Done()
	var calls []*batchCall
	for {
		select {
		case c := <-r.batchq:
			calls = append(calls[:0], c)
		case <-r.quit:
			return
		}
		n := len(calls[0].cmds)
	fill:
		for n < maxBatch {
			select {
			case c := <-r.batchq:
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

// runBatch sends the commands of calls in pipelines and answers each call.
// A caller whose context is over before the batch is sent is left out. The
// pipelines run without any one caller's context, so that one cancelled
// request does not fail the others.
func (r *Redis) runBatch(calls []*batchCall) {
	live := calls[:0:0]
	var cmds, durable []*redis.Cmd
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.done <- r.wrap(err)
			continue
		}
		live = append(live, c)
		if c.durable {
			durable = append(durable, c.cmds...)
		} else {
			cmds = append(cmds, c.cmds...)
		}
	}
	ctx := context.Background()
	if len(cmds) > 0 {
		r.pipeline(ctx, r.rdb, cmds, false)
	}
	if len(durable) > 0 {
		r.runDurable(ctx, durable)
	}
	for _, c := range live {
		c.done <- nil
	}
}

// pipeline sends cmds through one pipeline of p (with WAIT after them when
// wait), loading the scripts again and resending on NOSCRIPT (the commands
// did not run).
func (r *Redis) pipeline(ctx context.Context, p pipeliner, cmds []*redis.Cmd, wait bool) {
	for try := 0; ; try++ {
		pipe := p.Pipeline()
		for _, cmd := range cmds {
			_ = pipe.Process(ctx, cmd)
		}
		var acks *redis.IntCmd
		if wait {
			acks = redis.NewIntCmd(ctx, "wait", 1, max(r.waitFor.Milliseconds(), 1))
			_ = pipe.Process(ctx, acks)
		}
		_, _ = pipe.Exec(ctx) // errors are read per command by the callers
		if wait {
			notReplicated(cmds, acks)
		}
		// NOSCRIPT: Redis lost the script (restart, SCRIPT FLUSH); that
		// command did not run. Load the script and send those again.
		var again []*redis.Cmd
		for _, cmd := range cmds {
			if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
				again = append(again, cmd)
			}
		}
		if len(again) == 0 || try == 2 {
			return
		}
		if err := loadScripts(ctx, r.rdb); err != nil {
			for _, cmd := range again {
				cmd.SetErr(err) // Redis is loading or gone again: unavailable
			}
			return
		}
		for _, cmd := range again {
			cmd.SetErr(nil)
		}
		cmds = again
	}
}

// pipeliner is a client that makes pipelines (one Redis, or a Cluster).
type pipeliner interface{ Pipeline() redis.Pipeliner }

// ErrNotReplicated: no replica acknowledged the write within the wait
// (durability replicated). The write may exist on the master only; the
// caller answers as unavailable and the sender's retry deduplicates.
var ErrNotReplicated = fmt.Errorf("%w: no replica acknowledged the write in time", ErrUnavailable)

// notReplicated fails the commands that succeeded when WAIT says no replica
// has them.
func notReplicated(cmds []*redis.Cmd, acks *redis.IntCmd) {
	if n, err := acks.Result(); err == nil && n >= 1 {
		return
	}
	for _, cmd := range cmds {
		if cmd.Err() == nil {
			cmd.SetErr(ErrNotReplicated)
		}
	}
}

// runDurable sends durable commands so that WAIT covers them: WAIT counts
// the writes of its own connection, so on a Cluster the commands go to
// their masters in one pipeline each, WAIT last; elsewhere one pipeline.
func (r *Redis) runDurable(ctx context.Context, cmds []*redis.Cmd) {
	cc, ok := r.rdb.(*redis.ClusterClient)
	if !ok {
		r.pipeline(ctx, r.rdb, cmds, true)
		return
	}
	byNode := map[*redis.Client][]*redis.Cmd{}
	for _, cmd := range cmds {
		node, err := cc.MasterForKey(ctx, firstKey(cmd))
		if err != nil {
			cmd.SetErr(err)
			continue
		}
		byNode[node] = append(byNode[node], cmd)
	}
	var wg sync.WaitGroup
	for node, nc := range byNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.pipeline(ctx, node, nc, true)
		}()
	}
	wg.Wait()
}

// firstKey is the first key of an EVALSHA command.
func firstKey(cmd *redis.Cmd) string {
	if a := cmd.Args(); len(a) > 3 {
		s, _ := a[3].(string)
		return s
	}
	return ""
}
