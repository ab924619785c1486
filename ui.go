package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"dialhook/config"
	"dialhook/console"
	"dialhook/dispatch"
	"dialhook/intake"
	"dialhook/mapping"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/store/redisurl"
)

// newConsole builds the operator console, or nil when `console: false`.
func newConsole(cfg *config.Config, st store.Store, sources map[string]*intake.Source, disp *dispatch.Dispatcher, log *zap.Logger) http.Handler {
	if !cfg.Console {
		return nil
	}
	cs, ok := st.(console.Store)
	if !ok {
		log.Warn("the store cannot serve the console: it is off")
		return nil
	}
	pipe := intake.NewPipeline(st, cfg.DedupWindow.D(), cfg.StoreTimeout.D())
	return console.New(console.Options{
		Store: cs, Sources: consoleSources(cfg, sources),
		Explainer: pipe,
		Replayer:  replayer{pipe: pipe, sources: sources},
		Dialer: func() console.DialerStatus {
			if disp == nil {
				return console.DialerStatus{}
			}
			s := disp.Status()
			return console.DialerStatus{DryRun: s.DryRun, LastOK: s.LastOK, LastError: s.LastError, LastErrorAt: s.LastErrorAt}
		},
		AdminToken: cfg.AdminToken, PublicBaseURL: cfg.PublicBaseURL, Redact: configSecrets(cfg),
		MaxBody: cfg.MaxBodyBytes, Version: version, Started: time.Now(), Log: log.Named("console"),
		NormalizeNumber: func(raw string) (string, error) {
			n, _, err := mapping.NormalizePhone(raw, "", cfg.Phone)
			return n, err
		},
	})
}

// replayer replays an event through its source's current configuration.
type replayer struct {
	pipe    *intake.Pipeline
	sources map[string]*intake.Source
}

func (r replayer) Replay(ctx context.Context, ev *store.Event) (*store.Event, error) {
	src := r.sources[ev.Source]
	if src == nil {
		return nil, fmt.Errorf("source %q is no longer configured", ev.Source)
	}
	return r.pipe.Replay(ctx, src, ev, time.Now())
}

// consoleSources describes each configured source for the console: what
// it is set to, and which credentials are set, never their values.
func consoleSources(cfg *config.Config, sources map[string]*intake.Source) []console.SourceInfo {
	var out []console.SourceInfo
	for _, name := range cfg.SourceNames() {
		sc := cfg.Sources[name]
		win := sc.CallWindow
		if win == nil {
			win = cfg.CallWindow
		}
		pub := sc.PublicBaseURL
		if pub == "" {
			pub = cfg.PublicBaseURL
		}
		out = append(out, console.SourceInfo{
			Name: name, Kind: sc.Kind, Source: sources[name], Credentials: credentialNames(sc),
			AllowUnauthenticated: sc.AllowUnauthenticated, When: sc.When, CallWindow: describeWindow(win),
			Cooldown: sc.Cooldown.D(), PublicBaseURL: pub,
		})
	}
	return out
}

// credentialNames names the credential settings of a source that are set.
func credentialNames(sc config.Source) []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(sc.Secret != "", "secret")
	add(len(sc.OrgIDs) > 0, "org_ids")
	add(sc.BasicAuth != nil, "basic_auth")
	add(len(sc.AuthHeaders) > 0, "auth_headers")
	add(len(sc.AuthQuery) > 0, "auth_query")
	add(sc.APIKey != "", "api_key")
	add(sc.Writeback != nil && sc.Writeback.Token != "", "writeback.token")
	return out
}

// describeWindow writes a call window as an operator reads it; "" when
// there is none (always open).
func describeWindow(w *config.CallWindow) string {
	if w == nil {
		return ""
	}
	days := "every day"
	if len(w.Days) > 0 {
		days = strings.Join(w.Days, ", ")
	}
	s := days + " " + w.Start + "–" + w.End
	switch {
	case w.Timezone == schedule.Destination && w.FallbackTimezone != "":
		s += " in the called number's time zone (else " + w.FallbackTimezone + ")"
	case w.Timezone == schedule.Destination:
		s += " in the called number's time zone (else UTC)"
	case w.Timezone != "":
		s += " " + w.Timezone
	}
	if w.MaxDelay > 0 {
		s += ", at most " + w.MaxDelay.D().String() + " late"
	}
	return s
}

// configSecrets lists every credential the configuration holds, for the
// console to replace wherever one would show.
func configSecrets(cfg *config.Config) []string {
	out := []string{cfg.AdminToken, cfg.UContact.Token, cfg.UContact.Password}
	out = append(out, redisurl.Secrets(cfg.RedisURL)...)
	for _, sc := range cfg.Sources {
		out = append(out, sc.Credentials()...)
	}
	for _, n := range cfg.Notify {
		out = append(out, n.Secret)
	}
	return out
}
