package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/store/redisurl"
)

// Redis is the production store: one Redis, Sentinel or Cluster. Its files:
// redis_keys.go (every key name and the sharding), redis_scripts.go (every
// script, with its KEYS, ARGV and answer), redis_batch.go (the pipeline
// batcher and replicated acknowledgements), redis_events.go (accept and the
// read paths), redis_queue.go (the dispatcher's steps), redis_health.go
// (readiness, set-up warnings, the layout check).
type Redis struct {
	rdb        redis.UniversalClient
	k          keys
	retention  time.Duration
	queueMax   int
	replicated bool          // durability: replicated
	waitFor    time.Duration // how long WAIT waits for a replica

	// The batcher: see batchLoop.
	batchq    chan *batchCall
	quit      chan struct{}
	closeOnce sync.Once
	loops     sync.WaitGroup

	mode             string // "redis sentinel" when opened through Sentinels (see kind)
	searchIndex      bool
	matchWindow      time.Duration
	notify           bool
	dnc              dncState
	inspectRetention time.Duration
	requestsTrimmed  atomic.Int64 // ms: requests received before this are deleted (see trimRequests)
	requestsPass     atomic.Int64 // unix ns of trimRequests' last pass

	lastOOM  atomic.Int64 // unix ns of the last OOM answer (for Ready)
	lastTrim atomic.Int64 // unix ns of the last trim (see Promote)
	depth    queueDepth   // the queues' length, sampled (for queue_max)
}

var _ Store = (*Redis)(nil)

// Durability says when an accepted event (and a call about to be dialed)
// counts as recorded.
type Durability string

// The durabilities.
const (
	// Local: once the master has it in memory (and, with appendfsync
	// always, on its disk). A failover right after can lose it.
	Local Durability = "local"
	// Replicated: once at least one replica has it too (WAIT 1): a
	// failover to that replica keeps it.
	Replicated Durability = "replicated"
)

// DefaultShards is how many shards events are spread over by default.
const DefaultShards = 16

// RedisOptions tune the Redis store.
type RedisOptions struct {
	Retention time.Duration // how long records live (default 30 days)
	QueueMax  int           // backlog above which Accept answers ErrQueueFull (default 100000)
	Namespace string        // key prefix (default "dialhook"); deployments sharing a Redis use their own
	// Shards is how many shards events are spread over (default 16, at most
	// 256). It is fixed for the life of a deployment: VerifyLayout refuses
	// another number than the one the store was set up with.
	Shards int
	// Durability is Local (default) or Replicated.
	Durability Durability
	// SearchIndex keeps the console's search index: one ZADD more per
	// accepted event (the accept script's sixth command).
	SearchIndex bool
	// InspectRetention is how long an event's received request is kept
	// (default 72 h, at most Retention).
	InspectRetention time.Duration
	// Notify queues a notification job with every state change a notify
	// endpoint may want (one XADD more in those scripts).
	Notify bool
	// MatchWindow is how long an agent's last placed call can be matched
	// by an AgentRingNoAnswer (0: not kept; one SET more per placed call).
	MatchWindow time.Duration
	// Timeout bounds each command's network wait (dial, read, write) when
	// OpenRedis builds the client (default 2s): a stalled Redis makes a
	// webhook answer 503 within about this long. WAIT waits half of it.
	Timeout time.Duration
}

// OpenRedis connects to the Redis named by url (see redisurl.Parse) and
// prepares the queues. It does not fail when Redis is down: Ping tells.
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
		// A MOVED or ASK answer (a slot that moved, a replica promoted) is
		// followed, and the slot map reloaded: that is not a retry of a
		// command that may have run.
		c.MaxRedirects = 8
		// A killed master sends no MOVED: the slot map is also reloaded
		// every second (one CLUSTER SLOTS while there is traffic) and after
		// every failed command (wrap), so a promoted replica is used within
		// about a second of its promotion.
		c.ClusterStateReloadInterval = time.Second
	case redisurl.Sentinel:
		f := u.Failover
		f.PoolSize, f.MinIdleConns = 64, 4
		f.DialTimeout, f.ReadTimeout, f.WriteTimeout, f.MaxRetries = o.Timeout, o.Timeout, o.Timeout, -1
	default:
		c := u.Single
		c.PoolSize, c.MinIdleConns = 64, 4
		c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.MaxRetries = o.Timeout, o.Timeout, o.Timeout, -1
	}
	r, err := NewRedis(ctx, u.Client(), o)
	if err == nil && u.Mode == redisurl.Sentinel {
		r.mode = "redis sentinel"
	}
	return r, err
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
	if o.Shards <= 0 {
		o.Shards = DefaultShards
	}
	if o.Shards > maxShards {
		return nil, fmt.Errorf("store: shards %d: at most %d", o.Shards, maxShards)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	switch o.Durability {
	case "", Local, Replicated:
	default:
		return nil, fmt.Errorf("store: durability %q: want local or replicated", o.Durability)
	}
	r := &Redis{rdb: rdb, k: newKeys(o.Namespace, o.Shards), retention: o.Retention, queueMax: o.QueueMax,
		replicated: o.Durability == Replicated, waitFor: o.Timeout / 2,
		batchq: make(chan *batchCall), quit: make(chan struct{}), searchIndex: o.SearchIndex, matchWindow: o.MatchWindow, notify: o.Notify,
		inspectRetention: min(cmp.Or(o.InspectRetention, DefaultInspectRetention), o.Retention)}
	for s := range o.Shards {
		_ = r.ensureGroup(ctx, s) // retried by Next when Redis is down now
	}
	// Loaded again on NOSCRIPT (Redis restarted or flushed its scripts).
	_ = loadScripts(ctx, rdb)
	r.loops.Add(1)
	go r.batchLoop()
	return r, nil
}

// Shards implements Store.
func (r *Redis) Shards() int { return len(r.k.shards) }

// NewEventID implements Store: a random id naming the dedup key's shard.
func (r *Redis) NewEventID(dedupKey string) string { return newID(r.k.shardOf(dedupKey)) }

func (r *Redis) ensureGroup(ctx context.Context, shard int) error {
	err := r.rdb.XGroupCreateMkStream(ctx, r.k.shards[shard].queue(), group, "0").Err()
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
	// A master that stopped answering may have been replaced: go-redis
	// reloads the slot map on MOVED, but a dead master sends none. The
	// reload is asynchronous and go-redis runs at most one at a time.
	if cc, ok := r.rdb.(*redis.ClusterClient); ok && errors.Is(err, ErrUnavailable) {
		cc.ReloadState(context.Background())
	}
	return err
}

// classify marks Redis' OOM answer (maxmemory reached under noeviction) as
// ErrFull, and as ErrUnavailable every failure after which the same command
// may work later: no connection or a lost one, a timeout, Redis loading
// its data, a replica that is read-only or a cluster that is reconfiguring
// (a failover in progress), a script Redis lost (NOSCRIPT: it did not run),
// or a write no replica acknowledged in time. It uses go-redis' own error
// helpers, never the message text.
func classify(err error) error {
	var ne net.Error
	switch {
	case err == nil || errors.Is(err, redis.Nil) || errors.Is(err, ErrUnavailable):
		return err
	case redis.IsOOMError(err):
		return fmt.Errorf("%w: %w", ErrFull, err)
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), redis.IsLoadingError(err), redis.IsReadOnlyError(err),
		redis.IsClusterDownError(err), redis.IsTryAgainError(err), redis.IsMasterDownError(err),
		redis.IsNoReplicasError(err), redis.HasErrorPrefix(err, "NOSCRIPT"):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("store: redis: %w", err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func msString(t time.Time) string { return strconv.FormatInt(ms(t), 10) }

// clientLogger adapts a function to go-redis' logger.
type clientLogger func(detail string)

func (l clientLogger) Printf(_ context.Context, format string, v ...any) {
	l(fmt.Sprintf(format, v...))
}

// LogClient routes what go-redis itself reports (reconnect attempts) to log.
// go-redis keeps one logger for the whole process: the last call wins.
func LogClient(log func(detail string)) { redis.SetLogger(clientLogger(log)) }

// queueDepth is the queues' length as this replica knows it: the accept
// script does not count the queue (it is not one event's key), so
// queue_max is checked against a sample taken at most once a second, plus
// the events this replica queued since; near the limit the sample is
// taken again at once, so one replica never overshoots it.
type queueDepth struct {
	mu    sync.Mutex
	n     int64     // the sample
	since int64     // events queued here after it
	at    time.Time // when it was taken
}

// queueFull reports whether the queues hold queue_max entries or more.
func (r *Redis) queueFull(ctx context.Context) (bool, error) {
	d := &r.depth
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) > time.Second || d.n+d.since >= int64(r.queueMax) {
		n, err := r.depthNow(ctx)
		if err != nil {
			return false, err
		}
		d.n, d.since, d.at = n, 0, time.Now()
	}
	return d.n+d.since >= int64(r.queueMax), nil
}

// queued notes n events this replica queued.
func (r *Redis) queued(n int) {
	r.depth.mu.Lock()
	r.depth.since += int64(n)
	r.depth.mu.Unlock()
}
