package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"dialhook/config"
	"dialhook/crm"
	"dialhook/crmapi"
	"dialhook/dispatch"
	"dialhook/enrich"
	"dialhook/handlers"
	"dialhook/intake"
	"dialhook/mapping"
	"dialhook/metrics"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/store/redisurl"
	"dialhook/ucontact"
)

// loadConfig reads --config FILE (or DIALHOOK_CONFIG) and the environment.
func loadConfig(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("config", getenv("DIALHOOK_CONFIG"), "YAML config file (env DIALHOOK_CONFIG)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Load(*path, getenv)
	return cfg, fs, err
}

// buildSources compiles every source's adapter and mapping, reporting every
// problem at once.
func buildSources(cfg *config.Config) (map[string]*intake.Source, []string, error) {
	var problems, warnings []string
	out := map[string]*intake.Source{}
	var globalWin *schedule.Window
	if cfg.CallWindow != nil {
		globalWin, _ = cfg.CallWindow.Compile() // validated in config
	}
	for _, name := range cfg.SourceNames() {
		sc := cfg.Sources[name]
		pub := sc.PublicBaseURL
		if pub == "" {
			pub = cfg.PublicBaseURL
		}
		cc := crm.Config{
			Name: name, Kind: sc.Kind, Secret: sc.Secret, OrgIDs: sc.OrgIDs, BasicAuth: sc.BasicAuth,
			AuthHeaders: sc.AuthHeaders, AuthQuery: sc.AuthQuery, PublicBaseURL: pub, TrustProxy: sc.TrustProxy,
			ClockSkew: sc.ClockSkew.D(), AllowUnauthenticated: sc.AllowUnauthenticated, APIKey: sc.APIKey,
		}
		ad, err := crm.New(cc)
		adapterOK := err == nil
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				problems = append(problems, "sources."+name+": "+line)
			}
			// Check the mapping too, so that every problem is reported at once.
			cc.AllowUnauthenticated = true
			if ad, err = crm.New(cc); err != nil {
				continue
			}
		}
		if w, ok := ad.(crm.Warner); ok && adapterOK {
			warnings = append(warnings, w.Warnings()...)
		}
		if sc.AllowUnauthenticated && sc.Kind != "generic" {
			warnings = append(warnings, fmt.Sprintf("source %q (kind %s) accepts unauthenticated webhooks (allow_unauthenticated: true); anyone who knows the URL can trigger calls", name, sc.Kind))
		}
		mp, err := mapping.Compile(mapping.Spec{
			Source: name, Kind: sc.Kind, Preset: ad.Preset(), Rules: sc.Mapping,
			Defaults: sc.Defaults, GlobalDefaults: cfg.Defaults, Region: sc.Region, When: sc.When,
			Agents: cfg.Agents.Agents, Phone: cfg.Phone,
		})
		if err != nil {
			var ce *mapping.CompileError
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					problems = append(problems, fmt.Sprintf("sources.%s.%s: %s", name, p.Key, p.Message))
				}
			} else {
				problems = append(problems, fmt.Sprintf("sources.%s: %v", name, err))
			}
			continue
		}
		if !adapterOK {
			continue
		}
		win := globalWin
		if sc.CallWindow != nil {
			win, _ = sc.CallWindow.Compile()
		}
		out[name] = &intake.Source{Name: name, Adapter: ad, Mapper: mp, Cooldown: sc.Cooldown.D(), Window: win}
	}
	if len(problems) > 0 {
		return nil, warnings, &config.Error{Problems: problems}
	}
	return out, warnings, nil
}

func newLogger(format string, w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime, enc.EncodeDuration = "ts", zapcore.ISO8601TimeEncoder, zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	if format == "console" {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.AddSync(w), zap.InfoLevel))
}

// serve runs the service until ctx is cancelled.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, _, err := loadConfig("serve", args, getenv, nil)
	if err != nil {
		return err
	}
	sources, warnings, err := buildSources(&cfg)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stdout)
	defer func() { _ = log.Sync() }()
	log.Info("dialhook starting", zap.String("version", version), zap.Any("config", cfg.Summary()))
	for _, w := range warnings {
		log.Warn(w)
	}

	// go-redis reports reconnect attempts through its own logger: route them
	// to ours, sampled, so that a Redis outage does not flood the log.
	redis.SetLogger(redisLogger{log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, 10*time.Second, 1, 0)
	}))})
	var st store.Store
	if cfg.RedisURL == "" {
		log.Warn("no DIALHOOK_REDIS_URL: using the embedded in-memory store; events are lost on restart and replicas share nothing (for trying dialhook out only)")
		st = store.NewMemory(store.MemoryOptions{Retention: cfg.Retention.D(), QueueMax: cfg.QueueMax, MaxEvents: cfg.MemoryMaxEvents})
	} else {
		rs, err := store.OpenRedis(ctx, cfg.RedisURL, store.RedisOptions{Retention: cfg.Retention.D(), QueueMax: cfg.QueueMax, Timeout: cfg.StoreTimeout.D()})
		if err != nil {
			return err
		}
		st = rs
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if err := rs.Ping(pctx); err != nil {
			log.Warn("redis is not answering yet; webhooks answer 503 and /readyz fails until it does", zap.String("redis_url", redisurl.Mask(cfg.RedisURL)), zap.Error(err))
		} else {
			for _, w := range rs.Check(pctx) {
				log.Warn(w)
			}
		}
		cancel()
	}
	defer func() { _ = st.Close() }()

	var dialer dispatch.Dialer = dispatch.DryRun{}
	dry := !cfg.UContact.Configured()
	if dry {
		log.Warn("no uContact configured (UCONTACT_BASE_URL/UCONTACT_INSTANCE and UCONTACT_TOKEN or UCONTACT_USER+UCONTACT_PASSWORD): DRY RUN, no real calls will be placed; events get a synthetic call GUID marked dry_run")
	} else {
		cl, err := ucontact.New(ucontact.Config{BaseURL: cfg.UContact.URL(), Token: cfg.UContact.Token,
			User: cfg.UContact.User, Password: cfg.UContact.Password, Timeout: cfg.UContact.Timeout.D()})
		if err != nil {
			return fmt.Errorf("ucontact: %w", err)
		}
		dialer = cl
	}
	if cfg.AdminToken == "" {
		log.Warn("no DIALHOOK_ADMIN_TOKEN: admin endpoints (/events, /calls, ?dry_run=true) answer loopback clients only; a request that came through a proxy or tunnel (ngrok: any X-Forwarded-*, Forwarded, X-Real-IP or ngrok header) is refused; set DIALHOOK_ADMIN_TOKEN to use them through one")
	}

	m := metrics.New(func(ctx context.Context) (store.Stats, error) { return st.Stats(ctx, time.Now()) })
	windows := map[string]*schedule.Window{}
	for name, s := range sources {
		windows[name] = s.Window
	}
	disp := dispatch.New(st, dialer, log, m, dispatch.Options{
		Workers: cfg.Workers, Concurrency: cfg.Concurrency, ClaimIdle: cfg.ClaimIdle.D(), RetryMax: cfg.RetryMax,
		RetryUnknown: cfg.RetryUnknown, DialTimeout: cfg.UContact.Timeout.D(), MinGap: cfg.Agents.MinGap.D(),
		DryRun: dry, Windows: windows, Enricher: newEnricher(&cfg, sources),
	})
	srv := handlers.New(handlers.Options{
		Log: log, Store: st, Metrics: m, Sources: sources, AdminToken: cfg.AdminToken,
		MaxBody: cfg.MaxBodyBytes, DedupWindow: cfg.DedupWindow.D(), StoreTimeout: cfg.StoreTimeout.D(),
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, "/webhooks/"+n)
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Strings("webhooks", names))

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

	select {
	case err = <-serveErr:
		stopWork()
	case <-ctx.Done():
	}
	log.Info("shutting down: no new webhooks; finishing calls in flight", zap.Duration("timeout", cfg.ShutdownTimeout.D()))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout.D())
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

// newEnricher gives the dispatcher what it needs to fetch what webhooks
// lack from the CRMs' APIs (a Close lead's contacts).
func newEnricher(cfg *config.Config, sources map[string]*intake.Source) *enrich.Enricher {
	srcs := make(map[string]enrich.Source, len(sources))
	for name, s := range sources {
		sc := cfg.Sources[name]
		srcs[name] = enrich.Source{Mapper: s.Mapper, CloseAPIKey: sc.APIKey, Close: &crmapi.Close{BaseURL: sc.APIBaseURL}}
	}
	return enrich.New(srcs, enrich.Options{})
}

// redisLogger adapts zap to go-redis' internal logger.
type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn("redis client", zap.String("detail", fmt.Sprintf(format, v...)))
}
