package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"dialhook/crm"
	"dialhook/mapping"
	"dialhook/store/redisurl"
)

var (
	// instanceName is a bare uContact instance name, the host's first label.
	instanceName = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	// sourceName is a source name, which becomes a path segment.
	sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// report gathers problems, each naming the setting's key and environment
// variable as the declaration gives them, at the line of the file that set
// the key (or its section) when the file did.
type report struct {
	labels map[string]string
	col    *collector
}

func newReport(all []setting, col *collector) *report {
	r := &report{labels: make(map[string]string, len(all)), col: col}
	for _, s := range all {
		r.labels[s.Key] = s.label()
	}
	return r
}

// add reports a problem with the setting at key (or any other prefix, such
// as a section name, which is printed as it is). A key whose value in the
// file was refused is already reported; what its default lacks is noise.
func (r *report) add(key, format string, a ...any) {
	if r.col.isRefused(key) {
		return
	}
	label, ok := r.labels[key]
	if !ok {
		label = key
	}
	r.col.add(r.col.where(key), label, format, a...)
}

// validate checks every section and adds every problem found to col.
func (c *Config) validate(all []setting, col *collector) {
	r := newReport(all, col)
	c.validateServer(r)
	c.validateLimits(r)
	c.UContact.validate(r)
	c.Agents.validate(r)
	c.CallWindow.validate(r, "call_window")
	c.validateSources(r)
	c.validateNotify(r)
}

// validateServer checks how dialhook listens, logs and reaches its store.
func (c *Config) validateServer(r *report) {
	if c.Listen == "" {
		r.add("listen", "must not be empty, e.g. :8080")
	}
	if c.RedisURL != "" {
		// The URL is not shown, even masked: in one that is wrong, which
		// part is a password (or a piece of one) cannot be told. The error
		// says what is wrong.
		if _, err := redisurl.Parse(c.RedisURL); err != nil {
			r.add("redis_url", "%v (e.g. redis://127.0.0.1:6379/0)", err)
		}
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		r.add("log_format", "%q must be json or console", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		r.add("log_level", "%q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.Durability {
	case "local", "replicated":
	default:
		r.add("durability", "%q must be local (acknowledged once the Redis master has it) or replicated (once a replica has it too)", c.Durability)
	}
	if c.PublicBaseURL != "" {
		if u, err := url.Parse(c.PublicBaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			r.add("public_base_url", "%q must be an absolute URL such as https://abc.ngrok-free.app", c.PublicBaseURL)
		}
	}
}

// validateLimits checks the durations and sizes, alone and against each
// other.
func (c *Config) validateLimits(r *report) {
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"dedup_window", c.DedupWindow}, {"retention", c.Retention}, {"shutdown_timeout", c.ShutdownTimeout},
		{"claim_idle", c.ClaimIdle}, {"ucontact.timeout", c.UContact.Timeout}, {"store_timeout", c.StoreTimeout},
		{"inspect.retention", c.Inspect.Retention}, {"ucontact_events.match_window", c.UContactEvents.MatchWindow},
		{"notify_retry_for", c.NotifyRetryFor},
	} {
		if d.v <= 0 {
			r.add(d.key, "must be greater than zero")
		}
	}
	if c.MemoryMaxEvents < 1 {
		r.add("memory_max_events", "must be at least 1")
	}
	if c.Inspect.MaxBody < 0 || c.Inspect.MaxBody > c.MaxBodyBytes {
		r.add("inspect.max_body", "%d must be between 0 and max_body_bytes (%d)", c.Inspect.MaxBody, c.MaxBodyBytes)
	}
	if p := c.Limits.PerDestination; p != nil && (p.Max < 1 || p.Per <= 0) {
		r.add("limits.per_destination", "needs max (at least 1) and per (a duration such as 24h), e.g. {max: 3, per: 24h}")
	}
	if c.Retention < c.DedupWindow {
		r.add("retention", "%s is shorter than dedup_window %s; records must outlive the dedup window", c.Retention.D(), c.DedupWindow.D())
	}
	if c.NotifyRetryFor > c.Retention {
		// Attempts are recorded on the event: it must outlive them.
		r.add("notify_retry_for", "%s is longer than retention %s; an event must be kept while its notifications are retried", c.NotifyRetryFor.D(), c.Retention.D())
	}
	if c.ClaimIdle <= c.UContact.Timeout {
		r.add("claim_idle", "%s must be longer than ucontact.timeout %s, or a slow call would be reclaimed while still in flight", c.ClaimIdle.D(), c.UContact.Timeout.D())
	}
	if c.MaxBodyBytes <= 0 {
		r.add("max_body_bytes", "must be greater than zero")
	}
	if c.Workers < 1 {
		r.add("workers", "must be at least 1")
	}
	if c.RetryMax < 1 {
		r.add("retry_max", "must be at least 1 (the first attempt counts)")
	}
	if c.Concurrency < 1 {
		r.add("ucontact_concurrency", "must be at least 1")
	}
	if c.QueueMax < 1 {
		r.add("queue_max", "must be at least 1")
	}
	if c.Shards < 1 || c.Shards > 256 {
		r.add("shards", "must be from 1 to 256")
	}
}

// validate checks the uContact address and that exactly one kind of
// credentials goes with it. ucontact.timeout is checked with the limits.
func (u UContact) validate(r *report) {
	if u.BaseURL != "" && u.Instance != "" {
		r.add("ucontact", "set base_url (UCONTACT_BASE_URL) or instance (UCONTACT_INSTANCE), not both")
	}
	if u.BaseURL != "" && !isHTTPURL(u.BaseURL) {
		r.add("ucontact.base_url", "%q must be an http(s) URL such as https://acme.ucontactcloud.com", u.BaseURL)
	}
	if u.Instance != "" && !instanceName.MatchString(u.Instance) {
		r.add("ucontact.instance", "%q must be the bare instance name (letters, digits, dashes), e.g. acme", u.Instance)
	}
	if u.Token != "" && u.User != "" {
		r.add("ucontact", "set token (UCONTACT_TOKEN) or user+password (UCONTACT_USER, UCONTACT_PASSWORD), not both")
	}
	if (u.User == "") != (u.Password == "") {
		r.add("ucontact", "user (UCONTACT_USER) and password (UCONTACT_PASSWORD) go together; one is missing")
	}
	hasURL := u.BaseURL != "" || u.Instance != ""
	hasCred := u.Token != "" || u.User != ""
	if hasURL && !hasCred {
		r.add("ucontact", "a base URL is set but no credentials: set UCONTACT_TOKEN, or UCONTACT_USER and UCONTACT_PASSWORD")
	}
	if hasCred && !hasURL {
		r.add("ucontact", "credentials are set but no base URL: set UCONTACT_BASE_URL or UCONTACT_INSTANCE")
	}
}

// validate checks the routing table.
func (a Agents) validate(r *report) {
	if a.MinGap < 0 {
		r.add("agents.min_gap", "must not be negative")
	}
	for owner, route := range a.Routes {
		if route.Agent == "" {
			r.add(fmt.Sprintf("agents.routes[%q].agent", owner), "must not be empty")
		}
	}
}

// validate reports each problem of the window under key, e.g.
// "call_window.timezone: …". A nil window is always open.
func (w *CallWindow) validate(r *report, key string) {
	if _, err := w.Compile(); err != nil {
		for _, msg := range strings.Split(err.Error(), "\n") {
			field, text, _ := strings.Cut(msg, ": ") // "timezone: ..."
			r.add(key+"."+field, "%s", text)
		}
	}
}

// validateSources checks each source, in name order.
func (c *Config) validateSources(r *report) {
	for _, name := range c.SourceNames() {
		c.Sources[name].validate(r, name)
	}
}

// validate checks what config can know of a source alone; its adapter and
// mapping check the rest when they are built.
func (s Source) validate(r *report, name string) {
	key := "sources." + name
	if !sourceName.MatchString(name) {
		r.add(key, "the name is used in the URL /webhooks/%s; use lowercase letters, digits, - and _", name)
	}
	switch {
	case s.Kind == "":
		r.add(key+".kind", "must be set (generic, salesforce, hubspot, pipedrive, zoho, dynamics, close, standard, or ucontact for uContact's event notifications)")
	case !slices.Contains(crm.Kinds, s.Kind):
		r.add(key+".kind", "unknown kind %q; %s", s.Kind, suggestOrList(s.Kind, crm.Kinds, "the kinds are "))
		// Reported here, at its line: the adapter and the mapping are not
		// built, and what depends on the kind is not checked.
		r.col.refused[key+".kind"] = true
		s.Kind = ""
	}
	if s.Cooldown < 0 {
		r.add(key+".cooldown", "must not be negative")
	}
	if (s.APIKey != "" || s.APIBaseURL != "") && s.Kind != "close" && s.Kind != "" {
		r.add(key, "api_key and api_base_url are read by kind close only (kind %s has no use for them)", s.Kind)
	}
	if s.APIBaseURL != "" && !isHTTPURL(s.APIBaseURL) {
		r.add(key+".api_base_url", "%q must be an http(s) URL such as https://api.close.com", s.APIBaseURL)
	}
	s.CallWindow.validate(r, key+".call_window")
	s.validateWriteback(r, key+".writeback")
	s.Dial.validate(r, key+".dial", s.Kind)
}

// validate checks a source's dial settings: a known mode, a campaign for
// the dialer, a data template whose placeholders exist, record paths.
func (d *Dial) validate(r *report, key, kind string) {
	if d == nil {
		return
	}
	if kind == "ucontact" {
		r.add(key, "a ucontact source receives uContact's events and places no call: it has no dial settings")
	}
	switch d.Mode {
	case "", "agent_call":
		for _, k := range []struct {
			name string
			set  bool
		}{{"campaign", d.Campaign != ""}, {"alternatives", len(d.Alternatives) > 0}, {"schedule_in_dialer", d.ScheduleInDialer}} {
			if k.set {
				r.add(key+"."+k.name, "is read in mode dialer_task only (this source's mode is agent_call)")
			}
		}
	case "dialer_task":
		if strings.TrimSpace(d.Campaign) == "" {
			r.add(key+".campaign", "must be set in mode dialer_task: the dialer campaign the lead is queued in, e.g. \"POWER<-\"")
		}
	default:
		r.add(key+".mode", "%q must be agent_call (ring a named agent) or dialer_task (queue the lead in uContact's dialer)", d.Mode)
	}
	if _, err := mapping.ParseData(d.Data); err != nil {
		r.add(key+".data", "%v", err)
	}
	for i, p := range d.Alternatives {
		if err := mapping.CheckPath(p); err != nil {
			r.add(fmt.Sprintf("%s.alternatives[%d]", key, i), "%v", err)
		}
	}
}

// validateWriteback checks a source's write-back: for the CRMs dialhook
// writes to, with a token.
func (s Source) validateWriteback(r *report, key string) {
	w := s.Writeback
	switch {
	case w == nil:
	case s.Kind != "hubspot" && s.Kind != "pipedrive" && s.Kind != "":
		r.add(key, "kind %s has no write-back; hubspot and pipedrive do (for the others, use a notify endpoint: see docs/after-the-call.md)", s.Kind)
	case w.Token == "":
		r.add(key+".token", "must be set (hubspot: a private app's access token with the crm.objects.contacts.write scope; pipedrive: an API token)")
	case w.BaseURL != "" && !isHTTPURL(w.BaseURL):
		r.add(key+".base_url", "%q must be an http(s) URL such as https://api.hubapi.com", w.BaseURL)
	}
}

// isHTTPURL reports whether s is an absolute http or https URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
