package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"dialhook/config"
	"dialhook/dispatch"
	"dialhook/handlers"
	"dialhook/intake"
	"dialhook/internal/outage"
	"dialhook/mapping"
	"dialhook/metrics"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/store/redisurl"
	"dialhook/ucontact"
)

// loadConfig parses a command's flags (--config FILE, or DIALHOOK_CONFIG,
// plus extra's) and reads the configuration and the environment.
func loadConfig(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet), stdout io.Writer) (config.Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("config", getenv("DIALHOOK_CONFIG"), "the YAML configuration `FILE` (env DIALHOOK_CONFIG); without one: the defaults and the environment")
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return config.Config{}, err
	}
	return config.Load(*path, getenv)
}

// configure loads the configuration and builds its sources, listing the
// problems of both at once (the configuration's own, then each source's
// adapter and mapping), so that one run shows everything to fix.
func configure(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet), stdout io.Writer) (
	config.Config, map[string]*intake.Source, []string, error) {
	cfg, err := loadConfig(name, args, getenv, extra, stdout)
	var ce *config.Error
	if err != nil && !errors.As(err, &ce) {
		return cfg, nil, nil, err // a flag, or the file cannot be read
	}
	sources, warnings, err := checkedSources(&cfg, err)
	return cfg, sources, warnings, err
}

func newLogger(format, level string, w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime, enc.EncodeDuration = "ts", zapcore.ISO8601TimeEncoder, zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	if format == "console" {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		lvl = zapcore.InfoLevel // validated in config
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.AddSync(w), lvl))
}

// serve runs the service until ctx is cancelled.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, sources, warnings, err := configure("serve", args, getenv, nil, stdout)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, cfg.LogLevel, stdout)
	defer func() { _ = log.Sync() }()
	log.Info("dialhook starting", zap.String("version", version), zap.Any("config", cfg.Summary()))
	for _, w := range warnings {
		log.Warn(w)
	}
	st, err := openStore(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	dialer, dry, err := newDialer(&cfg, log)
	if err != nil {
		return err
	}
	if cfg.AdminToken == "" {
		log.Warn("no DIALHOOK_ADMIN_TOKEN: admin endpoints (/events, /calls, ?dry_run=true) and the console (/ui/) answer loopback clients only; a request that came through a proxy or tunnel (ngrok: any X-Forwarded-*, Forwarded, X-Real-IP or ngrok header) is refused; set DIALHOOK_ADMIN_TOKEN to use them through one")
	}
	m := metrics.New(func(ctx context.Context) (store.Stats, error) { return st.Stats(ctx, time.Now()) })
	// One tracker for every caller of the store: one outage is one start
	// line, at most one line a minute while it lasts, and one back line.
	down := outage.New(log, "store", outage.WithFull(store.IsFull))
	disp := newDispatcher(&cfg, st, dialer, dry, sources, log, m, down)
	if err := startNotifier(ctx, &cfg, st, log, m, down); err != nil {
		return err
	}
	var rec *intake.Recorder
	if insp, ok := st.(store.Inspector); ok && consoleOn(&cfg) {
		rec = intake.NewRecorder(insp, m.RefusalsDropped.Inc)
		go rec.Run(ctx, time.Second)
	}
	srv := handlers.New(handlers.Options{
		Log: log, Store: st, Metrics: m, Sources: sources, AdminToken: cfg.AdminToken,
		MaxBody: cfg.MaxBodyBytes, DedupWindow: cfg.DedupWindow.D(), StoreTimeout: cfg.StoreTimeout.D(), StoreDown: down,
		Console:  newConsole(&cfg, st, sources, disp, log),
		Recorder: rec, KeepRequests: consoleOn(&cfg), InspectBody: int(cfg.Inspect.MaxBody),
		NormalizeNumber: func(raw string) (string, error) {
			n, _, err := mapping.NormalizePhone(raw, "", cfg.Phone)
			return n, err
		},
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Strings("webhooks", webhookPaths(sources)),
		zap.Bool("console", cfg.Console))
	return runUntilDone(ctx, log, ln, srv, disp, cfg.ShutdownTimeout.D())
}

// openStore opens the store the configuration names: Redis, or the
// embedded in-memory store when no Redis URL is set (and says so).
func openStore(ctx context.Context, cfg *config.Config, log *zap.Logger) (store.Store, error) {
	// go-redis reports reconnect attempts through its own logger: route them
	// to ours, sampled, so that a Redis outage does not flood the log.
	sampled := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, 10*time.Second, 1, 0)
	}))
	// Debug: the outage tracker says when the store fails and comes back.
	store.LogClient(func(detail string) { sampled.Debug("redis client", zap.String("detail", detail)) })
	if cfg.RedisURL == "" {
		log.Warn("no DIALHOOK_REDIS_URL: using the embedded in-memory store; events are lost on restart and replicas share nothing (for trying dialhook out only)")
		return store.NewMemory(store.MemoryOptions{Retention: cfg.Retention.D(), QueueMax: cfg.QueueMax, MaxEvents: cfg.MemoryMaxEvents,
			InspectRetention: cfg.Inspect.Retention.D(), MatchWindow: matchWindow(cfg), Notify: notifyOn(cfg)}), nil
	}
	rs, err := store.OpenRedis(ctx, cfg.RedisURL, store.RedisOptions{Retention: cfg.Retention.D(), QueueMax: cfg.QueueMax,
		Timeout: cfg.StoreTimeout.D(), Shards: cfg.Shards, Durability: store.Durability(cfg.Durability),
		SearchIndex: consoleOn(cfg), InspectRetention: cfg.Inspect.Retention.D(), MatchWindow: matchWindow(cfg), Notify: notifyOn(cfg)})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rs.Ping(pctx); err != nil {
		log.Warn("redis is not answering yet; webhooks answer 503 and /readyz fails until it does", zap.String("redis_url", redisurl.Mask(cfg.RedisURL)), zap.Error(err))
		return rs, nil
	}
	if err := rs.VerifyLayout(pctx); errors.Is(err, store.ErrLayout) {
		_ = rs.Close()
		return nil, err
	} else if err != nil {
		log.Warn("could not check the store's layout", zap.Error(err))
	}
	for _, w := range rs.Check(pctx) {
		log.Warn(w)
	}
	return rs, nil
}

// newDialer is uContact's client, or the dry run when uContact is not
// configured (and says so).
func newDialer(cfg *config.Config, log *zap.Logger) (dispatch.Dialer, bool, error) {
	if !cfg.UContact.Configured() {
		log.Warn("no uContact configured (UCONTACT_BASE_URL/UCONTACT_INSTANCE and UCONTACT_TOKEN or UCONTACT_USER+UCONTACT_PASSWORD): DRY RUN, no real calls will be placed; events get a synthetic call GUID marked dry_run")
		return dispatch.DryRun{}, true, nil
	}
	cl, err := ucontact.New(ucontact.Config{BaseURL: cfg.UContact.URL(), Token: cfg.UContact.Token,
		User: cfg.UContact.User, Password: cfg.UContact.Password, Timeout: cfg.UContact.Timeout.D()})
	if err != nil {
		return nil, false, fmt.Errorf("ucontact: %w", err)
	}
	return cl, false, nil
}

func newDispatcher(cfg *config.Config, st store.Store, dialer dispatch.Dialer, dry bool, sources map[string]*intake.Source,
	log *zap.Logger, m *metrics.Metrics, down *outage.Tracker) *dispatch.Dispatcher {
	window := func(source, destination string) *schedule.Window {
		if s := sources[source]; s != nil {
			return s.WindowFor(destination)
		}
		return nil
	}
	return dispatch.New(st, dialer, log, m, dispatch.Options{
		Workers: cfg.Workers, Concurrency: cfg.Concurrency, ClaimIdle: cfg.ClaimIdle.D(), RetryMax: cfg.RetryMax,
		RetryUnknown: cfg.RetryUnknown, DialTimeout: cfg.UContact.Timeout.D(), MinGap: cfg.Agents.MinGap.D(),
		DryRun: dry, Window: window, Enricher: newEnricher(cfg, sources), WithData: cfg.UContact.WithData, StoreDown: down,
	})
}

func webhookPaths(sources map[string]*intake.Source) []string {
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, "/webhooks/"+n)
	}
	sort.Strings(names)
	return names
}

// runUntilDone serves HTTP and runs the dispatcher until ctx is cancelled
// (SIGTERM, SIGINT) or the server fails; then it stops taking webhooks and
// queue entries and lets the calls in flight finish within timeout.
func runUntilDone(ctx context.Context, log *zap.Logger, ln net.Listener, h http.Handler, disp *dispatch.Dispatcher, timeout time.Duration) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	dialCtx, stopDials := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDials()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		disp.Run(workCtx, dialCtx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	var err error
	select {
	case err = <-serveErr:
		stopWork()
	case <-ctx.Done():
	}
	log.Info("shutting down: no new webhooks; finishing calls in flight", zap.Duration("timeout", timeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	_ = hs.Shutdown(sctx)
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		log.Warn("shutdown timeout: abandoning calls in flight (their events become unknown when reclaimed)")
		stopDials()
		<-done
	}
	log.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// consoleOn reports whether the operator console is served (and so whether
// requests, refusals and the search index are kept for it).
func consoleOn(cfg *config.Config) bool { return cfg.Console }

// matchWindow is how long an agent's last placed call is kept for uContact's
// AgentRingNoAnswer: only when a source receives uContact's events (else
// the dial path saves the command).
func matchWindow(cfg *config.Config) time.Duration {
	for _, sc := range cfg.Sources {
		if sc.Kind == intake.UContactKind {
			return cfg.UContactEvents.MatchWindow.D()
		}
	}
	return 0
}
