package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/store/redisurl"
)

// Redis is the production store: one Redis, Sentinel or Cluster. Its files:
// redis_keys.go (every key name), redis_scripts.go (every script, with its
// KEYS, ARGV and answer), redis_batch.go (the pipeline batcher),
// redis_events.go (accept and the read paths), redis_queue.go (the
// dispatcher's steps), redis_health.go (readiness and set-up warnings).
type Redis struct {
	rdb       redis.UniversalClient
	k         keys
	retention time.Duration
	queueMax  int

	// The batcher: see batchLoop.
	batchq    chan *batchCall
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
		batchq: make(chan *batchCall), quit: make(chan struct{})}
	_ = r.ensureGroup(ctx) // retried by Next when Redis is down now
	// Loaded again on NOSCRIPT (Redis restarted or flushed its scripts).
	_ = loadScripts(ctx, rdb)
	r.loops.Add(1)
	go r.batchLoop()
	return r, nil
}

func (r *Redis) ensureGroup(ctx context.Context) error {
	err := r.rdb.XGroupCreateMkStream(ctx, r.k.queue(), group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return r.wrap(err)
	}
	return nil
}

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error { return r.wrap(r.rdb.Ping(ctx).Err()) }

// Close implements Store. Calls after Close answer ErrUnavailable.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() { close(r.quit) })
	r.loops.Wait()
	return r.rdb.Close()
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

// classify marks Redis' OOM answer (maxmemory reached under noeviction) as
// ErrFull, and as ErrUnavailable every failure after which the same command
// may work later: no connection or a lost one, a timeout, Redis loading
// its data, a replica that is read-only or a cluster that is reconfiguring
// (a failover in progress), or a script Redis lost (NOSCRIPT: it did not
// run). It uses go-redis' own error helpers, never the message text.
func classify(err error) error {
	var ne net.Error
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		return err
	case redis.IsOOMError(err):
		return fmt.Errorf("%w: %w", ErrFull, err)
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), redis.IsLoadingError(err), redis.IsReadOnlyError(err),
		redis.IsClusterDownError(err), redis.IsTryAgainError(err), redis.IsMasterDownError(err),
		redis.HasErrorPrefix(err, "NOSCRIPT"):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("store: redis: %w", err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// flag is a boolean hash field as the scripts read it: "1" or "".
func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// clientLogger adapts a function to go-redis' logger.
type clientLogger func(detail string)

func (l clientLogger) Printf(_ context.Context, format string, v ...any) {
	l(fmt.Sprintf(format, v...))
}

// LogClient routes what go-redis itself reports (reconnect attempts) to log.
// go-redis keeps one logger for the whole process: the last call wins.
func LogClient(log func(detail string)) { redis.SetLogger(clientLogger(log)) }
