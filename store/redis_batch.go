package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The batcher. Every script call of the webhook and dial paths goes
// through one goroutine, which takes every call waiting (one at least, it
// never waits to fill a batch) and sends their commands in one pipeline:
// one write and one read for many webhooks. Each script stays atomic on its
// own; batching only shares the round trip.

// maxBatch bounds the commands the batcher sends in one pipeline.
const maxBatch = 128

// batchCall is one caller waiting for the batcher.
type batchCall struct {
	ctx  context.Context
	cmds []*redis.Cmd
	done chan error // buffered: the batcher never waits for the caller
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
	c := &batchCall{ctx: ctx, cmds: cmds, done: make(chan error, 1)}
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

// runBatch sends the commands of calls in one pipeline and answers each
// call. A caller whose context is over before the batch is sent is left out.
// The pipeline itself runs without any one caller's context, so that one
// cancelled request does not fail the others.
func (r *Redis) runBatch(calls []*batchCall) {
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
