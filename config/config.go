// Package config loads dialhook's settings from an optional YAML file and
// the environment, applies defaults and validates everything at once.
//
// It knows nothing of HTTP or Redis; it only describes what the user set.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"dialhook/mapping"
	"dialhook/schedule"
	"dialhook/store/redisurl"
	"dialhook/ucontact"
)

// Duration is a time.Duration that reads "90s" or "24h" from YAML.
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings ("15s", "24h") and plain seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML prints the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 30s, 5m, 24h)", s)
	}
	return v, nil
}

// UContact is how dialhook reaches uContact.
type UContact struct {
	BaseURL  string   `yaml:"base_url"`
	Instance string   `yaml:"instance"`
	Token    string   `yaml:"token"`
	User     string   `yaml:"user"`
	Password string   `yaml:"password"`
	Timeout  Duration `yaml:"timeout"`
}

// Configured reports whether real calls can be placed.
func (u UContact) Configured() bool {
	return (u.BaseURL != "" || u.Instance != "") && (u.Token != "" || u.User != "")
}

// URL is the base URL, from base_url or instance.
func (u UContact) URL() string {
	if u.BaseURL != "" {
		return strings.TrimRight(u.BaseURL, "/")
	}
	if u.Instance != "" {
		return ucontact.BaseURLForInstance(u.Instance)
	}
	return ""
}

// Agents routes an owner value to an agent.
type Agents struct {
	Routes   map[string]mapping.Route `yaml:"routes"`
	Fallback *mapping.Route           `yaml:"fallback"`
	MinGap   Duration                 `yaml:"min_gap"`
}

// BasicAuth is a user and password pair.
type BasicAuth struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// CallWindow limits when calls are placed.
type CallWindow struct {
	Timezone string   `yaml:"timezone"`
	Days     []string `yaml:"days"`
	Start    string   `yaml:"start"`
	End      string   `yaml:"end"`
	MaxDelay Duration `yaml:"max_delay"`
}

// Source is one configured webhook sender, served at /webhooks/{name}.
type Source struct {
	Kind                 string            `yaml:"kind"`
	Secret               string            `yaml:"secret"`
	OrgIDs               []string          `yaml:"org_ids"`
	BasicAuth            *BasicAuth        `yaml:"basic_auth"`
	AuthHeaders          map[string]string `yaml:"auth_headers"`
	AuthQuery            map[string]string `yaml:"auth_query"`
	PublicBaseURL        string            `yaml:"public_base_url"`
	TrustProxy           bool              `yaml:"trust_proxy"`
	ClockSkew            Duration          `yaml:"clock_skew"`
	AllowUnauthenticated bool              `yaml:"allow_unauthenticated"`
	Region               string            `yaml:"region"`
	When                 string            `yaml:"when"`
	Mapping              map[string]any    `yaml:"mapping"`
	Defaults             ucontact.Params   `yaml:"defaults"`
	Cooldown             Duration          `yaml:"cooldown"`
	CallWindow           *CallWindow       `yaml:"call_window"`
	// APIKey lets the dispatcher read what a webhook lacks from the CRM's
	// API (close: the lead's contacts); APIBaseURL replaces the CRM's API
	// address (for tests and proxies).
	APIKey     string `yaml:"api_key"`
	APIBaseURL string `yaml:"api_base_url"`
}

// Config is every setting of dialhook.
type Config struct {
	Listen          string               `yaml:"listen"`
	RedisURL        string               `yaml:"redis_url"`
	AdminToken      string               `yaml:"admin_token"`
	LogFormat       string               `yaml:"log_format"`
	DedupWindow     Duration             `yaml:"dedup_window"`
	Retention       Duration             `yaml:"retention"`
	ShutdownTimeout Duration             `yaml:"shutdown_timeout"`
	MaxBodyBytes    int64                `yaml:"max_body_bytes"`
	PublicBaseURL   string               `yaml:"public_base_url"`
	Workers         int                  `yaml:"workers"`
	ClaimIdle       Duration             `yaml:"claim_idle"`
	RetryMax        int                  `yaml:"retry_max"`
	RetryUnknown    bool                 `yaml:"retry_unknown"`
	Concurrency     int                  `yaml:"ucontact_concurrency"`
	QueueMax        int                  `yaml:"queue_max"`
	StoreTimeout    Duration             `yaml:"store_timeout"`
	MemoryMaxEvents int                  `yaml:"memory_max_events"`
	UContact        UContact             `yaml:"ucontact"`
	Defaults        ucontact.Params      `yaml:"defaults"`
	Phone           mapping.PhoneOptions `yaml:"phone"`
	Agents          Agents               `yaml:"agents"`
	CallWindow      *CallWindow          `yaml:"call_window"`
	Sources         map[string]Source    `yaml:"sources"`

	// File is the YAML file the config came from ("" when none).
	File string `yaml:"-"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:          ":8080",
		LogFormat:       "json",
		DedupWindow:     Duration(24 * time.Hour),
		Retention:       Duration(30 * 24 * time.Hour),
		ShutdownTimeout: Duration(20 * time.Second),
		MaxBodyBytes:    1 << 20,
		Workers:         8,
		ClaimIdle:       Duration(60 * time.Second),
		RetryMax:        5,
		Concurrency:     16,
		QueueMax:        100000,
		StoreTimeout:    Duration(2 * time.Second),
		MemoryMaxEvents: 100000,
		UContact:        UContact{Timeout: Duration(15 * time.Second)},
	}
}

// envVar names one environment variable and how it sets the config.
type envVar struct {
	name string
	set  func(c *Config, v string) error
}

func str(p func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func dur(p func(c *Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*p(c) = Duration(d)
		return nil
	}
}

func integer(p func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*p(c) = n
		return nil
	}
}

func boolean(p func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*p(c) = b
		return nil
	}
}

// EnvVars lists the environment variables dialhook reads, in README order.
func EnvVars() []string {
	out := make([]string, 0, len(envVars))
	for _, e := range envVars {
		out = append(out, e.name)
	}
	return out
}

var envVars = []envVar{
	{"DIALHOOK_ADDR", str(func(c *Config) *string { return &c.Listen })},
	{"DIALHOOK_REDIS_URL", str(func(c *Config) *string { return &c.RedisURL })},
	{"DIALHOOK_ADMIN_TOKEN", str(func(c *Config) *string { return &c.AdminToken })},
	{"DIALHOOK_LOG_FORMAT", str(func(c *Config) *string { return &c.LogFormat })},
	{"DIALHOOK_DEDUP_WINDOW", dur(func(c *Config) *Duration { return &c.DedupWindow })},
	{"DIALHOOK_RETENTION", dur(func(c *Config) *Duration { return &c.Retention })},
	{"DIALHOOK_SHUTDOWN_TIMEOUT", dur(func(c *Config) *Duration { return &c.ShutdownTimeout })},
	{"DIALHOOK_PUBLIC_BASE_URL", str(func(c *Config) *string { return &c.PublicBaseURL })},
	{"DIALHOOK_WORKERS", integer(func(c *Config) *int { return &c.Workers })},
	{"DIALHOOK_CLAIM_IDLE", dur(func(c *Config) *Duration { return &c.ClaimIdle })},
	{"DIALHOOK_RETRY_MAX", integer(func(c *Config) *int { return &c.RetryMax })},
	{"DIALHOOK_RETRY_UNKNOWN", boolean(func(c *Config) *bool { return &c.RetryUnknown })},
	{"DIALHOOK_UCONTACT_CONCURRENCY", integer(func(c *Config) *int { return &c.Concurrency })},
	{"DIALHOOK_QUEUE_MAX", integer(func(c *Config) *int { return &c.QueueMax })},
	{"DIALHOOK_STORE_TIMEOUT", dur(func(c *Config) *Duration { return &c.StoreTimeout })},
	{"DIALHOOK_MEMORY_MAX_EVENTS", integer(func(c *Config) *int { return &c.MemoryMaxEvents })},
	{"UCONTACT_BASE_URL", str(func(c *Config) *string { return &c.UContact.BaseURL })},
	{"UCONTACT_INSTANCE", str(func(c *Config) *string { return &c.UContact.Instance })},
	{"UCONTACT_TOKEN", str(func(c *Config) *string { return &c.UContact.Token })},
	{"UCONTACT_USER", str(func(c *Config) *string { return &c.UContact.User })},
	{"UCONTACT_PASSWORD", str(func(c *Config) *string { return &c.UContact.Password })},
	{"UCONTACT_TIMEOUT", dur(func(c *Config) *Duration { return &c.UContact.Timeout })},
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Load reads the YAML file (when path is not empty), then the environment,
// and validates the result. The error lists every problem found.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	var problems []string
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: read %s: %w", path, err)
		}
		var missing []string
		expanded := varRef.ReplaceAllFunc(raw, func(m []byte) []byte {
			name := string(varRef.FindSubmatch(m)[1])
			v := getenv(name)
			if v == "" {
				missing = append(missing, name)
			}
			return []byte(v)
		})
		for _, name := range missing {
			problems = append(problems, fmt.Sprintf("%s: ${%s} is referenced but the environment variable is not set", path, name))
		}
		dec := yaml.NewDecoder(bytes.NewReader(expanded))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
		}
		c.File = path
	}
	for _, e := range envVars {
		v := getenv(e.name)
		if v == "" {
			continue
		}
		if err := e.set(&c, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", e.name, err))
		}
	}
	problems = append(problems, c.validate()...)
	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

// Error lists every configuration problem found at once.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

func (c *Config) validate() []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if c.Listen == "" {
		add("listen (DIALHOOK_ADDR): must not be empty, e.g. :8080")
	}
	if c.RedisURL != "" {
		if _, err := redisurl.Parse(c.RedisURL); err != nil {
			add("redis_url (DIALHOOK_REDIS_URL): %q: %v (e.g. redis://127.0.0.1:6379/0)", redisurl.Mask(c.RedisURL), err)
		}
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		add("log_format (DIALHOOK_LOG_FORMAT): %q must be json or console", c.LogFormat)
	}
	positive := func(name string, d Duration) {
		if d <= 0 {
			add("%s: must be greater than zero", name)
		}
	}
	positive("dedup_window (DIALHOOK_DEDUP_WINDOW)", c.DedupWindow)
	positive("retention (DIALHOOK_RETENTION)", c.Retention)
	positive("shutdown_timeout (DIALHOOK_SHUTDOWN_TIMEOUT)", c.ShutdownTimeout)
	positive("claim_idle (DIALHOOK_CLAIM_IDLE)", c.ClaimIdle)
	positive("ucontact.timeout (UCONTACT_TIMEOUT)", c.UContact.Timeout)
	positive("store_timeout (DIALHOOK_STORE_TIMEOUT)", c.StoreTimeout)
	if c.MemoryMaxEvents < 1 {
		add("memory_max_events (DIALHOOK_MEMORY_MAX_EVENTS): must be at least 1")
	}
	if c.Retention < c.DedupWindow {
		add("retention (DIALHOOK_RETENTION): %s is shorter than dedup_window %s; records must outlive the dedup window", c.Retention.D(), c.DedupWindow.D())
	}
	if c.ClaimIdle <= c.UContact.Timeout {
		add("claim_idle (DIALHOOK_CLAIM_IDLE): %s must be longer than ucontact.timeout %s, or a slow call would be reclaimed while still in flight", c.ClaimIdle.D(), c.UContact.Timeout.D())
	}
	if c.MaxBodyBytes <= 0 {
		add("max_body_bytes: must be greater than zero")
	}
	if c.Workers < 1 {
		add("workers (DIALHOOK_WORKERS): must be at least 1")
	}
	if c.RetryMax < 1 {
		add("retry_max (DIALHOOK_RETRY_MAX): must be at least 1 (the first attempt counts)")
	}
	if c.Concurrency < 1 {
		add("ucontact_concurrency (DIALHOOK_UCONTACT_CONCURRENCY): must be at least 1")
	}
	if c.QueueMax < 1 {
		add("queue_max (DIALHOOK_QUEUE_MAX): must be at least 1")
	}
	if c.PublicBaseURL != "" {
		if u, err := url.Parse(c.PublicBaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			add("public_base_url (DIALHOOK_PUBLIC_BASE_URL): %q must be an absolute URL such as https://abc.ngrok-free.app", c.PublicBaseURL)
		}
	}
	u := c.UContact
	if u.BaseURL != "" && u.Instance != "" {
		add("ucontact: set base_url (UCONTACT_BASE_URL) or instance (UCONTACT_INSTANCE), not both")
	}
	if u.BaseURL != "" {
		if pu, err := url.Parse(u.BaseURL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			add("ucontact.base_url (UCONTACT_BASE_URL): %q must be an http(s) URL such as https://acme.ucontactcloud.com", u.BaseURL)
		}
	}
	if u.Instance != "" && !regexp.MustCompile(`^[A-Za-z0-9-]+$`).MatchString(u.Instance) {
		add("ucontact.instance (UCONTACT_INSTANCE): %q must be the bare instance name (letters, digits, dashes), e.g. acme", u.Instance)
	}
	if u.Token != "" && u.User != "" {
		add("ucontact: set token (UCONTACT_TOKEN) or user+password (UCONTACT_USER, UCONTACT_PASSWORD), not both")
	}
	if (u.User == "") != (u.Password == "") {
		add("ucontact: user (UCONTACT_USER) and password (UCONTACT_PASSWORD) go together; one is missing")
	}
	hasURL := u.BaseURL != "" || u.Instance != ""
	hasCred := u.Token != "" || u.User != ""
	if hasURL && !hasCred {
		add("ucontact: a base URL is set but no credentials: set UCONTACT_TOKEN, or UCONTACT_USER and UCONTACT_PASSWORD")
	}
	if hasCred && !hasURL {
		add("ucontact: credentials are set but no base URL: set UCONTACT_BASE_URL or UCONTACT_INSTANCE")
	}
	if c.Agents.MinGap < 0 {
		add("agents.min_gap: must not be negative")
	}
	for owner, r := range c.Agents.Routes {
		if r.Agent == "" {
			add("agents.routes[%q].agent: must not be empty", owner)
		}
	}
	if c.CallWindow != nil {
		for _, msg := range c.CallWindow.problems() {
			add("call_window.%s", msg)
		}
	}
	names := make([]string, 0, len(c.Sources))
	for name := range c.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Sources[name]
		if !regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`).MatchString(name) {
			add("sources.%s: the name is used in the URL /webhooks/%s; use lowercase letters, digits, - and _", name, name)
		}
		if s.Kind == "" {
			add("sources.%s.kind: must be set (generic, salesforce, hubspot, pipedrive, zoho, dynamics, close or standard)", name)
		}
		if s.Cooldown < 0 {
			add("sources.%s.cooldown: must not be negative", name)
		}
		if (s.APIKey != "" || s.APIBaseURL != "") && s.Kind != "close" && s.Kind != "" {
			add("sources.%s: api_key and api_base_url are read by kind close only (kind %s has no use for them)", name, s.Kind)
		}
		if s.APIBaseURL != "" {
			if u, err := url.Parse(s.APIBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("sources.%s.api_base_url: %q must be an http(s) URL such as https://api.close.com", name, s.APIBaseURL)
			}
		}
		if s.CallWindow != nil {
			for _, msg := range s.CallWindow.problems() {
				add("sources.%s.call_window.%s", name, msg)
			}
		}
	}
	return p
}

// SourceNames returns the configured source names, sorted. When the file
// names no source, a "generic" source of kind generic is served, as the
// walking skeleton did.
func (c *Config) SourceNames() []string {
	if len(c.Sources) == 0 {
		c.Sources = map[string]Source{"generic": {Kind: "generic"}}
	}
	names := make([]string, 0, len(c.Sources))
	for n := range c.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Mask hides a secret, keeping only whether it is set.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// Summary is the configuration as it may be logged: secrets masked.
func (c Config) Summary() map[string]any {
	sources := map[string]string{}
	for n, s := range c.Sources {
		sources[n] = s.Kind
	}
	return map[string]any{
		"config_file":          c.File,
		"listen":               c.Listen,
		"redis_url":            redisurl.Mask(c.RedisURL),
		"admin_token":          Mask(c.AdminToken),
		"dedup_window":         c.DedupWindow.D().String(),
		"retention":            c.Retention.D().String(),
		"shutdown_timeout":     c.ShutdownTimeout.D().String(),
		"workers":              c.Workers,
		"claim_idle":           c.ClaimIdle.D().String(),
		"retry_max":            c.RetryMax,
		"retry_unknown":        c.RetryUnknown,
		"ucontact_concurrency": c.Concurrency,
		"queue_max":            c.QueueMax,
		"store_timeout":        c.StoreTimeout.D().String(),
		"memory_max_events":    c.MemoryMaxEvents,
		"ucontact_base_url":    c.UContact.URL(),
		"ucontact_token":       Mask(c.UContact.Token),
		"ucontact_user":        c.UContact.User,
		"ucontact_password":    Mask(c.UContact.Password),
		"ucontact_timeout":     c.UContact.Timeout.D().String(),
		"sources":              sources,
	}
}

// Compile turns the window into a schedule.Window.
func (w *CallWindow) Compile() (*schedule.Window, error) {
	if w == nil {
		return nil, nil
	}
	return schedule.Parse(w.Timezone, w.Days, w.Start, w.End, w.MaxDelay.D())
}

func (w *CallWindow) problems() []string {
	_, err := w.Compile()
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}
