// Package crm authenticates and parses the outbound webhooks that CRMs send
// (Salesforce, HubSpot, Pipedrive, Zoho, Dynamics 365, Close, Standard
// Webhooks, and a generic JSON shape) and turns them into mapping.Events.
//
// It is pure: no Echo, no Redis, no network. The HTTP handler reads the raw
// body once under a size limit, builds a Request, calls Authenticate and only
// then Parse, and answers in the sender's Dialect. Deduplication is the
// store's job: Parse reports the native dedup key of every event, duplicates
// included.
//
// It must not: import Echo, go-redis, store, intake, handlers or dispatch;
// make network calls (crmapi does, from the dispatcher); or parse a body
// before it authenticated it.
package crm

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"dialhook/mapping"
)

// Request is what the HTTP handler saw, independent of the web framework.
type Request struct {
	Method string
	URL    *url.URL // as received by the server: Path, RawQuery (URL.Host usually empty)
	Host   string   // Host header as received
	TLS    bool     // whether the server saw TLS
	Header http.Header
	Body   []byte // raw body, read once under the size limit
	Now    time.Time
}

// RequestOf rebuilds a Request from what was stored of one (a replay, the
// console's playground): target is the path with its query.
func RequestOf(method, target string, headers map[string]string, body []byte, now time.Time) (*Request, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("crm: request target %q: %w", target, err)
	}
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	return &Request{Method: method, URL: u, Header: h, Body: body, Now: now}, nil
}

// GuessContentType is the content type of a body given without one (a
// file for `dialhook map`, a body pasted in the console's playground):
// XML, JSON, else a form.
func GuessContentType(body []byte) string {
	for _, b := range body {
		switch b {
		case ' ', '\n', '\r', '\t':
			continue
		case '<':
			return "text/xml"
		case '{', '[':
			return "application/json"
		}
		break
	}
	return "application/x-www-form-urlencoded"
}

// BasicAuth holds HTTP Basic credentials (Pipedrive).
type BasicAuth struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// Config configures one source (one /webhooks/{name} endpoint).
type Config struct {
	Name, Kind string
	// Secret is the hubspot client secret; the zoho/generic shared token; the
	// dynamics WebhookKey (?code=); the close signature key (hex); the
	// standard whsec_ secret.
	Secret    string
	OrgIDs    []string   // salesforce
	BasicAuth *BasicAuth // pipedrive
	// AuthHeaders and AuthQuery are the dynamics HttpHeader and
	// HttpQueryString options.
	AuthHeaders, AuthQuery map[string]string
	PublicBaseURL          string        // e.g. https://abc.ngrok-free.app (hubspot URI rebuild)
	TrustProxy             bool          // trust X-Forwarded-Proto / X-Forwarded-Host
	ClockSkew              time.Duration // replay tolerance, default 5m when zero
	// AllowUnauthenticated lets a kind that normally authenticates run without
	// a credential. A credential that is configured is still checked.
	AllowUnauthenticated bool
	// APIKey is the close API key: with it, a lead event (which carries
	// contact ids, not phones) is marked to be fetched before the call.
	APIKey string
}

// DefaultClockSkew is the replay tolerance when Config.ClockSkew is zero.
const DefaultClockSkew = 5 * time.Minute

// Kinds lists the adapter kinds New accepts.
var Kinds = []string{"generic", "salesforce", "hubspot", "pipedrive", "zoho", "dynamics", "close", "standard", "ucontact"}

// Adapter authenticates and parses one kind of CRM webhook.
type Adapter interface {
	Kind() string
	// Preset returns the kind's preset mapping rules (a fresh map each call).
	Preset() map[string]any
	// Authenticate returns nil or an error matching ErrUnauthenticated
	// (a *AuthError). Salesforce may also return ErrMalformed.
	Authenticate(r *Request) error
	// Scheme names how r is authenticated ("HubSpot v3 signature"), for
	// the log line of a refused request; never a secret.
	Scheme(r *Request) string
	// Parse must only be called after Authenticate succeeded. It returns an
	// error matching ErrMalformed (400) or ErrUnprocessable (422).
	Parse(r *Request) (*Batch, error)
	Dialect() Dialect
}

// Warner is implemented by adapters that have something to say at start-up
// about their configuration (e.g. a secret read in a non-canonical form).
// The caller logs each warning once.
type Warner interface {
	Warnings() []string
}

// Batch is what one request carries.
type Batch struct {
	Events []mapping.Event
	// Ignored, when non-empty, says why the request is acknowledged without
	// dialing anything (e.g. "pipedrive delete event").
	Ignored string
}

// Dialect tells the handler how the sender expects to be answered.
type Dialect struct {
	SOAP bool // salesforce: answer with a SOAP Ack or Fault
	// RejectStatus is the HTTP status for a mapping rejection: 422 where the
	// sender shows or stops on 4xx (generic, standard), 200 for CRMs that
	// would otherwise retry or hide it.
	RejectStatus int
}

// New returns the adapter for cfg.Kind, or every configuration problem at once.
func New(cfg Config) (Adapter, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("source %q: "+format, append([]any{cfg.Name}, args...)...))
	}
	if cfg.Name == "" {
		bad("name is required")
	}
	if cfg.ClockSkew < 0 {
		bad("clock_skew must not be negative")
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.PublicBaseURL != "" {
		u, err := url.Parse(cfg.PublicBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("public_base_url must be an http(s) URL without query, like https://abc.ngrok-free.app")
		}
	}
	a := newAdapter(cfg, bad)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

// base is what every adapter holds: its configuration and the dialect it
// answers in.
type base struct {
	cfg     Config
	dialect Dialect
}

func (b *base) Kind() string     { return b.cfg.Kind }
func (b *base) Dialect() Dialect { return b.dialect }

// needSecret reports a missing secret for a kind that needs one; what says
// what the secret is.
func needSecret(cfg Config, need bool, bad problemf, what string) {
	if cfg.Secret == "" && need {
		bad("kind %s needs secret (%s)", cfg.Kind, what)
	}
}

// decodeSecret decodes a secret that has a format (close: hex; standard:
// base64), reporting a missing one (when needed) or one decode refuses.
func decodeSecret(cfg Config, need bool, bad problemf, what, format string, decode func(string) error) {
	if cfg.Secret == "" {
		needSecret(cfg, need, bad, what)
		return
	}
	if err := decode(cfg.Secret); err != nil {
		bad("kind %s: secret must be %s", cfg.Kind, format)
	}
}

// problemf reports one configuration problem of a source.
type problemf func(format string, args ...any)

// constructors build each kind's adapter; each checks its kind's settings
// (need: a credential is required, unless allow_unauthenticated).
var constructors = map[string]func(cfg Config, need bool, bad problemf) Adapter{
	"generic":    newGeneric,
	"salesforce": newSalesforce,
	"hubspot":    newHubSpot,
	"pipedrive":  newPipedrive,
	"zoho":       newZoho,
	"dynamics":   newDynamics,
	"close":      newClose,
	"standard":   newStandard,
	"ucontact":   newUContact,
}

// newAdapter builds the adapter of cfg.Kind, reporting configuration
// problems through bad; nil for an unknown kind.
func newAdapter(cfg Config, bad problemf) Adapter {
	build, ok := constructors[cfg.Kind]
	if !ok {
		bad("unknown kind %q (known kinds: %s)", cfg.Kind, strings.Join(Kinds, ", "))
		return nil
	}
	return build(cfg, !cfg.AllowUnauthenticated, bad)
}

func validOrgID(id string) bool {
	if len(id) != 15 && len(id) != 18 {
		return false
	}
	return !slices.ContainsFunc([]byte(id), func(c byte) bool { return !isAlnum(c) })
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// identityPreset maps fields named like the AgentCall parameters.
func identityPreset() map[string]any {
	return map[string]any{
		"callerid":    "callerid",
		"agent":       "agent",
		"phone":       "phone",
		"tech":        "tech",
		"context":     "context",
		"outqueue":    "outqueue",
		"destination": "destination",
		"id":          "event_id",
		"owner":       "owner",
	}
}

// newEvent fills the fields every event shares.
func newEvent(cfg *Config, r *Request, record []byte, bodyHash string) mapping.Event {
	return mapping.Event{
		Source:     cfg.Name,
		Kind:       cfg.Kind,
		BodyHash:   bodyHash,
		Record:     record,
		ReceivedAt: r.Now,
	}
}

// Interface guards.
var (
	_ Adapter = (*genericAdapter)(nil)
	_ Adapter = (*salesforceAdapter)(nil)
	_ Adapter = (*hubspotAdapter)(nil)
	_ Adapter = (*pipedriveAdapter)(nil)
	_ Adapter = (*zohoAdapter)(nil)
	_ Adapter = (*dynamicsAdapter)(nil)
	_ Adapter = (*closeAdapter)(nil)
	_ Adapter = (*standardAdapter)(nil)
	_ Warner  = (*standardAdapter)(nil)
	_ Warner  = (*closeAdapter)(nil)
)
