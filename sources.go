package main

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"dialhook/config"
	"dialhook/crm"
	"dialhook/crmapi"
	"dialhook/enrich"
	"dialhook/intake"
	"dialhook/mapping"
	"dialhook/schedule"
	"dialhook/store"
)

// checkedSources builds the sources of a configuration Load returned, also
// when Load found problems, so that start-up lists the file's problems and
// the sources' (an unknown kind, a mapping that does not compile) in one
// round. A file that is not valid YAML set no sources to check, and any
// other error (a flag, an unreadable file) is returned as it is.
func checkedSources(cfg *config.Config, loadErr error) (map[string]*intake.Source, []string, error) {
	var ce *config.Error
	if loadErr != nil && (!errors.As(loadErr, &ce) || errors.Is(loadErr, config.ErrSyntax)) {
		return nil, nil, loadErr
	}
	sources, warnings, err := buildSources(cfg)
	if ce == nil {
		return sources, warnings, err
	}
	problems := slices.Clone(ce.Problems)
	var se *config.Error
	if errors.As(err, &se) {
		problems = append(problems, se.Problems...)
	}
	return nil, warnings, &config.Error{Problems: problems}
}

// buildSources compiles every source's adapter and mapping, reporting every
// problem at once, each at the line of the file that sets it.
func buildSources(cfg *config.Config) (map[string]*intake.Source, []string, error) {
	var problems, warnings []string
	out := map[string]*intake.Source{}
	var globalWin *schedule.Window
	if cfg.CallWindow != nil {
		globalWin, _ = cfg.CallWindow.Compile() // validated in config
	}
	for _, name := range cfg.SourceNames() {
		if cfg.Refused("sources." + name + ".kind") {
			continue // reported by config.Load; nothing can be said without a kind
		}
		src, warn, probs := buildSource(cfg, name, globalWin)
		warnings, problems = append(warnings, warn...), append(problems, probs...)
		if src != nil {
			out[name] = src
		}
	}
	if len(problems) > 0 {
		return nil, warnings, &config.Error{Problems: problems}
	}
	return out, warnings, nil
}

// buildSource compiles one source; nil with its problems when it cannot.
func buildSource(cfg *config.Config, name string, globalWin *schedule.Window) (*intake.Source, []string, []string) {
	var problems, warnings []string
	sc := cfg.Sources[name]
	if sc.Kind == "" {
		return nil, nil, nil // the configuration says to set it
	}
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
			problems = append(problems, located(cfg, "sources."+name, line))
		}
		// Check the mapping too, so that every problem is reported at once.
		cc.AllowUnauthenticated = true
		if ad, err = crm.New(cc); err != nil {
			return nil, warnings, problems
		}
	}
	if w, ok := ad.(crm.Warner); ok && adapterOK {
		for _, msg := range w.Warnings() {
			warnings = append(warnings, at(cfg, "sources."+name, msg))
		}
	}
	warnings = append(warnings, bareWords(cfg, name)...)
	if sc.AllowUnauthenticated && sc.Kind != "generic" {
		warnings = append(warnings, at(cfg, "sources."+name+".allow_unauthenticated", fmt.Sprintf("source %q (kind %s) accepts "+
			"unauthenticated webhooks (allow_unauthenticated: true); anyone who knows the URL can trigger calls", name, sc.Kind)))
	}
	mp, err := mapping.Compile(mapping.Spec{
		Source: name, Kind: sc.Kind, Preset: ad.Preset(), Rules: sc.Mapping,
		Defaults: sc.Defaults, GlobalDefaults: cfg.Defaults, Region: sc.Region, When: sc.When, DNCOn: sc.DNCOn,
		Agents: cfg.Agents.Agents, Phone: cfg.Phone, DestinationOnly: sc.Dial.DialerTask(),
	})
	var ce *mapping.CompileError
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			problems = append(problems, located(cfg, "sources."+name+"."+p.Key, p.Message))
		}
		return nil, warnings, problems
	case err != nil:
		return nil, warnings, append(problems, located(cfg, "sources."+name, err.Error()))
	case !adapterOK:
		return nil, warnings, problems
	}
	win := globalWin
	if sc.CallWindow != nil {
		win, _ = sc.CallWindow.Compile()
	}
	secrets := secretsOf(sc)
	return &intake.Source{Name: name, Adapter: ad, Mapper: mp, Cooldown: sc.Cooldown.D(), Window: win, Secrets: secrets,
		Unauthenticated:        len(secrets) == 0 && len(cc.OrgIDs) == 0 && cc.BasicAuth == nil,
		RequeueOnAgentNoAnswer: cfg.UContactEvents.Requeue, Cap: capRule(cfg), Dial: dialPlan(sc.Dial)}, warnings, problems
}

// dialPlan compiles a source's dial settings (validated by config.Load).
func dialPlan(d *config.Dial) *intake.DialPlan {
	if d == nil {
		return nil
	}
	dp := &intake.DialPlan{DialerTask: d.DialerTask(), Campaign: d.Campaign, Alternatives: d.Alternatives,
		ScheduleInDialer: d.ScheduleInDialer}
	if d.Data != "" {
		dp.Data, _ = mapping.ParseData(d.Data)
	}
	if !dp.DialerTask && dp.Data == nil {
		return nil
	}
	return dp
}

// secretsOf lists a source's credential values, for masking in what is
// kept of its requests (values under 4 characters would mask ordinary
// text).
func secretsOf(sc config.Source) []string {
	return slices.DeleteFunc(sc.Credentials(), func(s string) bool { return len(s) < 4 })
}

// located writes a problem as config.Load does: "FILE:LINE:COL: KEY: msg"
// when the file sets the key (or its source), "KEY: msg" otherwise.
func located(cfg *config.Config, key, msg string) string { return at(cfg, key, key+": "+msg) }

// at puts "FILE:LINE:COL: " before a warning whose message names its
// source already, when the file sets key (or the source).
func at(cfg *config.Config, key, msg string) string {
	if where := cfg.Where(key); where != "" {
		return where + ": " + msg
	}
	return msg
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

// bareWords warns about mapping rules that look like constants written as
// paths: a bare word that names no field the kind's records are known to
// have ("context: agentes" looks for a field called agentes and finds
// nothing on every event).
func bareWords(cfg *config.Config, name string) []string {
	sc := cfg.Sources[name]
	keys := make([]string, 0, len(sc.Mapping))
	for k := range sc.Mapping {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		word, ok := crm.Suspicious(sc.Kind, sc.Mapping[k])
		if !ok {
			continue
		}
		at := cfg.Where("sources." + name + ".mapping." + k)
		if at != "" {
			at += ": "
		}
		out = append(out, fmt.Sprintf("%ssources.%s.mapping.%s: %q is read as a path (a field of the %s record called %s); "+
			"if it is meant as a constant, write %s: {value: %q} (or put it in defaults)", at, name, k, word, sc.Kind, word, k, word))
	}
	return out
}

// capRule is limits.per_destination for the store (nil: none).
func capRule(cfg *config.Config) *store.CapRule {
	if p := cfg.Limits.PerDestination; p != nil {
		return &store.CapRule{Max: p.Max, Per: p.Per.D()}
	}
	return nil
}
