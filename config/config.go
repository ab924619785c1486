// Package config loads dialhook's settings from an optional YAML file and
// the environment, applies defaults and validates everything at once.
//
// Every setting is declared once, as a struct field whose tags give its YAML
// key, environment variable, default and meaning (see settings.go); loading,
// the masked summary and the README check all read those tags, so there is
// no second list to keep in step.
//
// It must not do I/O beyond reading the one file it is given, and knows
// nothing of HTTP or Redis connections: it only describes what the user set.
package config

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"dialhook/crm"
	"dialhook/mapping"
	"dialhook/schedule"
	"dialhook/ucontact"
)

// Tags read by settings.go, on a field of Config or of a struct it holds:
//
//	yaml:"key"       the YAML key (yaml.v3's own tag)
//	env:"NAME"       the environment variable that overrides the file
//	default:"value"  the value when nothing sets it, written as in the env
//	doc:"text"       what the setting means, as the README's table says it
//	secret:"true"    masked in Summary ("url": only the URL's password)

// UContact is how dialhook reaches uContact.
type UContact struct {
	BaseURL  string   `yaml:"base_url" env:"UCONTACT_BASE_URL" doc:"e.g. https://acme.ucontactcloud.com"`
	Instance string   `yaml:"instance" env:"UCONTACT_INSTANCE" doc:"instead of base_url: acme → https://acme.ucontactcloud.com"`
	Token    string   `yaml:"token" env:"UCONTACT_TOKEN" secret:"true" doc:"the token uContact issues"`
	User     string   `yaml:"user" env:"UCONTACT_USER" doc:"instead of a token: the user dialhook logs in with"`
	Password string   `yaml:"password" env:"UCONTACT_PASSWORD" secret:"true" doc:"the password of user"`
	Timeout  Duration `yaml:"timeout" env:"UCONTACT_TIMEOUT" default:"15s" doc:"whole AgentCall request timeout"`
	WithData bool     `yaml:"with_data" env:"UCONTACT_WITH_DATA" default:"false" doc:"send a source's dial.data with its calls through Agents/AgentCallwithData (AgentCall on a 404)"`
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

// UContactEvents tunes what uContact's event notifications (a source of
// kind ucontact) do.
type UContactEvents struct {
	MatchWindow Duration `yaml:"match_window" env:"DIALHOOK_UCONTACT_EVENTS_MATCH_WINDOW" default:"2m" doc:"an AgentRingNoAnswer matches the agent's last placed call within this window (by agent, not by GUID)"`
	Requeue     bool     `yaml:"requeue_on_agent_no_answer" env:"DIALHOOK_UCONTACT_EVENTS_REQUEUE" default:"false" doc:"put a lead whose agent did not pick up back in the queue, once per event"`
}

// Limits are the calling rules counted in the store.
type Limits struct {
	PerDestination *PerDestination `yaml:"per_destination" doc:"at most max events for one number within per, across every source; the next are recorded capped"`
}

// PerDestination is the attempt cap per destination.
type PerDestination struct {
	Max int      `yaml:"max"`
	Per Duration `yaml:"per"`
}

// Inspect is what the console keeps of each webhook.
type Inspect struct {
	MaxBody   int64    `yaml:"max_body" env:"DIALHOOK_INSPECT_MAX_BODY" default:"65536" doc:"bytes of each recorded webhook's body the console keeps (0: none)"`
	Retention Duration `yaml:"retention" env:"DIALHOOK_INSPECT_RETENTION" default:"72h" doc:"how long the console keeps each webhook's request (capped at retention)"`
}

// Agents is mapping's owner → agent routing, plus the pause the dispatcher
// keeps between two calls of one agent (which mapping has no use for).
type Agents struct {
	mapping.Agents `yaml:",inline"`
	MinGap         Duration `yaml:"min_gap" default:"0" doc:"pause between two calls of one agent"`
}

// CallWindow limits when calls are placed. Timezone is an IANA name, or
// "destination": the window is read in the called number's own time zones
// (all of them, when its range spans several), and FallbackTimezone (UTC
// when empty) is the zone of a number the phone library places in none.
type CallWindow struct {
	Timezone         string   `yaml:"timezone"`
	FallbackTimezone string   `yaml:"fallback_timezone"`
	Days             []string `yaml:"days"`
	Start            string   `yaml:"start"`
	End              string   `yaml:"end"`
	MaxDelay         Duration `yaml:"max_delay"`
}

// Compile turns the window into a schedule.Window.
func (w *CallWindow) Compile() (*schedule.Window, error) {
	if w == nil {
		return nil, nil
	}
	return schedule.Compile(schedule.Spec{Timezone: w.Timezone, Fallback: w.FallbackTimezone,
		Days: w.Days, Start: w.Start, End: w.End, MaxDelay: w.MaxDelay.D()})
}

// Source is one configured webhook sender, served at /webhooks/{name}.
type Source struct {
	Kind                 string            `yaml:"kind"`
	Secret               string            `yaml:"secret" secret:"true"`
	OrgIDs               []string          `yaml:"org_ids"`
	BasicAuth            *crm.BasicAuth    `yaml:"basic_auth" secret:"true"`
	AuthHeaders          map[string]string `yaml:"auth_headers" secret:"true"`
	AuthQuery            map[string]string `yaml:"auth_query" secret:"true"`
	PublicBaseURL        string            `yaml:"public_base_url"`
	TrustProxy           bool              `yaml:"trust_proxy"`
	ClockSkew            Duration          `yaml:"clock_skew"`
	AllowUnauthenticated bool              `yaml:"allow_unauthenticated"`
	Region               string            `yaml:"region"`
	When                 string            `yaml:"when"`
	DNCOn                string            `yaml:"dnc_on"`
	Mapping              map[string]any    `yaml:"mapping"`
	Defaults             ucontact.Params   `yaml:"defaults"`
	Cooldown             Duration          `yaml:"cooldown"`
	CallWindow           *CallWindow       `yaml:"call_window"`
	// APIKey lets the dispatcher read what a webhook lacks from the CRM's
	// API (close: the lead's contacts); APIBaseURL replaces the CRM's API
	// address (for tests and proxies).
	APIKey     string `yaml:"api_key" secret:"true"`
	APIBaseURL string `yaml:"api_base_url"`
	// Writeback logs each call on the CRM record the webhook came from
	// (hubspot: a Call engagement; pipedrive: a call activity).
	Writeback *Writeback `yaml:"writeback"`
	// Dial says how the source's leads are handed to uContact: AgentCall
	// (default) or its dialer (DialerTask), and the data sent with them.
	Dial *Dial `yaml:"dial"`
}

// Dial is a source's dial settings.
type Dial struct {
	Mode             string   `yaml:"mode"`               // agent_call (default) or dialer_task
	Campaign         string   `yaml:"campaign"`           // dialer_task: the dialer campaign, e.g. "POWER<-"
	Data             string   `yaml:"data"`               // a template, e.g. "crm={kind}&id={record_id}"
	Alternatives     []string `yaml:"alternatives"`       // dialer_task: record paths of other numbers to try
	ScheduleInDialer bool     `yaml:"schedule_in_dialer"` // dialer_task: outside the call window, hand off at once with a calldate
}

// DialerTask reports whether the source hands its leads to uContact's
// dialer.
func (d *Dial) DialerTask() bool { return d != nil && d.Mode == "dialer_task" }

// Credentials are the values of every credential the source is configured
// with (empty ones left out): for masking them wherever they could show.
func (s Source) Credentials() []string {
	out := []string{s.Secret, s.APIKey}
	if s.BasicAuth != nil {
		out = append(out, s.BasicAuth.Password)
	}
	for _, v := range s.AuthHeaders {
		out = append(out, v)
	}
	for _, v := range s.AuthQuery {
		out = append(out, v)
	}
	if s.Writeback != nil {
		out = append(out, s.Writeback.Token)
	}
	return slices.DeleteFunc(out, func(v string) bool { return v == "" })
}

// Writeback is a source's CRM write-back.
type Writeback struct {
	Token   string `yaml:"token" secret:"true"` // hubspot: a private app's access token; pipedrive: an API token
	BaseURL string `yaml:"base_url"`            // the CRM's API root (default: the CRM's own)
}

// Config is every setting of dialhook.
type Config struct {
	Listen          string               `yaml:"listen" env:"DIALHOOK_ADDR" default:":8080" doc:"address to serve HTTP on"`
	RedisURL        string               `yaml:"redis_url" env:"DIALHOOK_REDIS_URL" secret:"url" doc:"Redis URL; empty: embedded in-memory store"`
	AdminToken      string               `yaml:"admin_token" env:"DIALHOOK_ADMIN_TOKEN" secret:"true" doc:"bearer token for the admin endpoints"`
	LogFormat       string               `yaml:"log_format" env:"DIALHOOK_LOG_FORMAT" default:"json" doc:"json or console"`
	LogLevel        string               `yaml:"log_level" env:"DIALHOOK_LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	DedupWindow     Duration             `yaml:"dedup_window" env:"DIALHOOK_DEDUP_WINDOW" default:"24h" doc:"a redelivery inside this window is a duplicate"`
	Retention       Duration             `yaml:"retention" env:"DIALHOOK_RETENTION" default:"720h" doc:"how long event records are kept (at least dedup_window)"`
	ShutdownTimeout Duration             `yaml:"shutdown_timeout" env:"DIALHOOK_SHUTDOWN_TIMEOUT" default:"20s" doc:"on SIGTERM/SIGINT, how long calls in flight may take to finish"`
	MaxBodyBytes    int64                `yaml:"max_body_bytes" default:"1048576" doc:"larger webhook bodies answer 413"`
	PublicBaseURL   string               `yaml:"public_base_url" env:"DIALHOOK_PUBLIC_BASE_URL" doc:"the URL the world calls, used to check HubSpot signatures"`
	Console         bool                 `yaml:"console" env:"DIALHOOK_CONSOLE" default:"true" doc:"serve the operator console at /ui/"`
	Workers         int                  `yaml:"workers" env:"DIALHOOK_WORKERS" default:"8" doc:"queue readers per replica"`
	ClaimIdle       Duration             `yaml:"claim_idle" env:"DIALHOOK_CLAIM_IDLE" default:"60s" doc:"a queue entry left this long by a dead worker is taken over"`
	RetryMax        int                  `yaml:"retry_max" env:"DIALHOOK_RETRY_MAX" default:"5" doc:"attempts in all for a call that may safely be retried"`
	RetryUnknown    bool                 `yaml:"retry_unknown" env:"DIALHOOK_RETRY_UNKNOWN" default:"false" doc:"also retry calls whose outcome is unknown"`
	Concurrency     int                  `yaml:"ucontact_concurrency" env:"DIALHOOK_UCONTACT_CONCURRENCY" default:"16" doc:"AgentCall requests in flight per replica"`
	QueueMax        int                  `yaml:"queue_max" env:"DIALHOOK_QUEUE_MAX" default:"100000" doc:"backlog above which webhooks answer 503"`
	StoreTimeout    Duration             `yaml:"store_timeout" env:"DIALHOOK_STORE_TIMEOUT" default:"2s" doc:"longest wait for the store"`
	MemoryMaxEvents int                  `yaml:"memory_max_events" env:"DIALHOOK_MEMORY_MAX_EVENTS" default:"100000" doc:"records the in-memory store keeps at most"`
	Shards          int                  `yaml:"shards" env:"DIALHOOK_SHARDS" default:"16" doc:"shards events are spread over in Redis (fixed for the life of a deployment)"`
	Durability      string               `yaml:"durability" env:"DIALHOOK_DURABILITY" default:"local" doc:"local or replicated: when an accepted event counts as recorded"`
	UContact        UContact             `yaml:"ucontact"`
	Inspect         Inspect              `yaml:"inspect"`
	UContactEvents  UContactEvents       `yaml:"ucontact_events"`
	Limits          Limits               `yaml:"limits"`
	Defaults        ucontact.Params      `yaml:"defaults" doc:"values for AgentCall parameters a webhook does not give"`
	Phone           mapping.PhoneOptions `yaml:"phone" doc:"how customer numbers are read and formatted"`
	Agents          Agents               `yaml:"agents" doc:"owner → agent routing"`
	CallWindow      *CallWindow          `yaml:"call_window" doc:"default call window for every source"`
	Sources         map[string]Source    `yaml:"sources" doc:"webhook senders, one per /webhooks/NAME"`
	NotifyRetryFor  Duration             `yaml:"notify_retry_for" env:"DIALHOOK_NOTIFY_RETRY_FOR" default:"24h" doc:"how long after its first attempt a notification is retried before it is given up"`
	Notify          []NotifyEndpoint     `yaml:"notify" doc:"endpoints that receive signed notifications (Standard Webhooks) of what became of events and calls"`

	// File is the YAML file the config came from ("" when none).
	File string `yaml:"-"`

	loc *locator // where the file set each key, for Where
}

// Refused reports whether the file gave the key path a value Load could
// not read or use (and reported: a value of the wrong type, an unknown
// kind), or misspelled the key, so that it holds its default instead: what
// depends on it is better left unchecked than reported twice.
func (c *Config) Refused(key string) bool {
	return c.loc.isRefused(key)
}

// defaultSource is served when the file names no source, as the walking
// skeleton did. A map of structs has no place for a default tag, so Load
// adds it by hand.
const defaultSource = "generic"

// Load reads the YAML file (when path is not empty), then the environment,
// and validates the result. The error, an *Error, lists every problem
// found: syntax, unknown keys, values of the wrong type, environment
// variables and validation, each at its line in the file when it has one.
// On error the Config holds what could be read, for callers that go on to
// check what depends on it (the sources' adapters and mappings).
func Load(path string, getenv func(string) string) (Config, error) {
	var c Config
	all := settingsOf(&c)
	col := newCollector(path)
	applyDefaults(all, col)
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: read %s: %w", path, err)
		}
		readFile(&c, raw, getenv, col)
		c.File = path
	}
	if len(c.Sources) == 0 {
		c.Sources = map[string]Source{defaultSource: {Kind: "generic"}}
	}
	applyEnv(all, getenv, col)
	if !col.syntax {
		// Validating what a file that did not parse would have set would
		// only report its absence.
		c.validate(all, col)
	}
	c.loc = col.locator
	return c, col.err()
}

// Where returns "FILE:LINE:COL" for the key path, such as
// "sources.crm.mapping.destination", or for its nearest ancestor the file
// sets; "" when the file sets neither, or an environment variable set the
// key (the problem is then the variable's).
func (c *Config) Where(key string) string {
	return c.loc.format(c.loc.where(key))
}

// SourceNames returns the configured source names, sorted.
func (c *Config) SourceNames() []string {
	names := make([]string, 0, len(c.Sources))
	for n := range c.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
