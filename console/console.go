// Package console is dialhook's operator console: server-rendered pages
// under /ui/ that show every event with its request as received, how the
// current configuration maps it and what was dialed; the refused
// deliveries; the sources with a mapping playground; and the service's
// health. From an event's page an operator redials or replays it.
//
// It is built on net/http, html/template and embed alone: its templates,
// CSS and little script are its own files, nothing is fetched at run time,
// and every page works without JavaScript but the live updates. Every
// replica serves it from the shared store, so any replica shows everything.
//
// It must not: import Echo (handlers mounts it), go-redis (it reads the
// store through its Store interface), handlers or dispatch; show a
// configured secret (requests are masked before they are stored; the
// console masks again by header name and replaces every configured secret
// it is given); or change anything without a confirmation and a CSRF token.
package console

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"dialhook/crm"
	"dialhook/intake"
	"dialhook/store"
)

// Store is what the console reads of the store, and its one write: a
// redial.
type Store interface {
	Get(ctx context.Context, id string) (*store.Event, error)
	List(ctx context.Context, q store.ListQuery) (store.Page, error)
	Stats(ctx context.Context, now time.Time) (store.Stats, error)
	Redial(ctx context.Context, id string, r store.Redial) (*store.Event, error)
	Search(ctx context.Context, q string, limit int) ([]*store.Event, error)
	Refused(ctx context.Context, source string, limit int) ([]store.Refusal, error)
	Activity(ctx context.Context, sources []string, now time.Time) (map[string]store.SourceActivity, error)
	Health(ctx context.Context) store.Health
	// Ready is what /readyz answers: nil when an event can be recorded now,
	// else why not (ErrFull when out of memory).
	Ready(ctx context.Context) error
}

// Replayer runs an event's stored request through the current
// configuration as a new event (a new id, dialed once), and answers the
// new event's record.
type Replayer interface {
	Replay(ctx context.Context, ev *store.Event) (*store.Event, error)
}

// Explainer maps a request as the webhook would, recording and dialing
// nothing (intake.Pipeline).
type Explainer interface {
	Explain(ctx context.Context, src *intake.Source, req *crm.Request) (*intake.Result, error)
}

// DialerStatus is what this replica knows of uContact.
type DialerStatus struct {
	DryRun      bool // no uContact configured: calls get a synthetic GUID
	LastOK      time.Time
	LastErrorAt time.Time
	LastError   string // never holds a credential
}

// SourceInfo describes one configured source. It never holds a secret:
// only the names of the credentials that are set.
type SourceInfo struct {
	Name string
	Kind string
	// Source maps the source's requests (the stored ones, and the
	// playground's); nil when it could not be built.
	Source *intake.Source
	// Credentials names the credential settings that are set ("secret",
	// "basic_auth", "auth_headers", …), never their values.
	Credentials          []string
	AllowUnauthenticated bool
	When                 string
	CallWindow           string // as the operator reads it; "" when always open
	Cooldown             time.Duration
	// PublicBaseURL is the source's own public_base_url, else the
	// global one; "" when neither is set.
	PublicBaseURL string
}

// Options are the console's dependencies and settings.
type Options struct {
	Store   Store
	Sources []SourceInfo
	// Explainer maps stored and pasted requests; nil maps them without a
	// store (no duplicate lookups).
	Explainer Explainer
	// Replayer replays an event; nil answers that replay is not available.
	Replayer Replayer
	// Dialer reports uContact's status; nil reports nothing known.
	Dialer func() DialerStatus
	// AdminToken, when set, is what the sign-in page asks for; without it
	// the console answers loopback clients only.
	AdminToken    string
	PublicBaseURL string
	// Redact lists every configured secret: none is ever shown, whatever
	// the masking before the store missed (values shorter than 8
	// characters are too common to replace safely and are left alone).
	Redact     []string
	MaxBody    int64         // the playground's body limit (default 1 MiB)
	SessionTTL time.Duration // how long a sign-in lasts (default 12h)
	Version    string
	Started    time.Time
	Now        func() time.Time
	Log        *zap.Logger
	// NormalizeNumber reads a phone number as destinations are read (the
	// do-not-call list page); nil: the page says there is no list.
	NormalizeNumber func(raw string) (string, error)
}

// Console serves the pages.
type Console struct {
	store     Store
	sources   []SourceInfo
	byName    map[string]*SourceInfo
	explain   Explainer
	replayer  Replayer
	dialer    func() DialerStatus
	keys      keys
	tokenMode bool
	token     []byte
	secureAll bool // public_base_url is https: every cookie is Secure
	publicURL string
	redact    *strings.Replacer
	redactOut *strings.Replacer // over every rendered page (see newOutputRedactor)
	normalize func(raw string) (string, error)
	maxBody   int64
	ttl       time.Duration
	version   string
	started   time.Time
	now       func() time.Time
	log       *zap.Logger
	pages     pages
	mux       *http.ServeMux
}

// New builds the console's handler. It serves full paths under /ui/.
func New(o Options) http.Handler {
	c := &Console{
		store: o.Store, sources: o.Sources, byName: map[string]*SourceInfo{}, explain: o.Explainer,
		replayer: o.Replayer, dialer: o.Dialer, tokenMode: o.AdminToken != "", token: []byte(o.AdminToken),
		publicURL: strings.TrimRight(o.PublicBaseURL, "/"), redact: newRedactor(o.Redact), redactOut: newOutputRedactor(o.Redact),
		maxBody: o.MaxBody, ttl: o.SessionTTL, version: o.Version, started: o.Started, now: o.Now, log: o.Log,
		pages: parsePages(), normalize: o.NormalizeNumber,
	}
	c.secureAll = strings.HasPrefix(strings.ToLower(o.PublicBaseURL), "https://")
	for i := range c.sources {
		c.byName[c.sources[i].Name] = &c.sources[i]
	}
	if c.explain == nil {
		c.explain = intake.NewPipeline(nil, 0, 0)
	}
	if c.maxBody <= 0 {
		c.maxBody = 1 << 20
	}
	if c.ttl <= 0 {
		c.ttl = 12 * time.Hour
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.started.IsZero() {
		c.started = c.now()
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if c.tokenMode {
		c.keys = derivedKeys(o.AdminToken)
	} else {
		// Loopback mode has no shared secret: a key of this process's own
		// binds each browser's CSRF cookie to its forms.
		c.keys.csrf = make([]byte, 32)
		_, _ = rand.Read(c.keys.csrf)
	}
	c.mux = c.routes()
	return c
}

// routes lists every page and action, top to bottom.
func (c *Console) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /ui/static/", staticFiles())
	m.HandleFunc("GET /ui/signin", c.signInPage)
	m.HandleFunc("POST /ui/signin", c.signIn)
	m.HandleFunc("POST /ui/signout", c.guard(c.signOut))

	m.HandleFunc("GET /ui/{$}", c.guard(c.eventsPage))
	m.HandleFunc("GET /ui/live", c.guardJSON(c.live))
	m.HandleFunc("GET /ui/events/{id}", c.guard(c.eventPage))
	m.HandleFunc("GET /ui/events/{id}/redial", c.guard(c.redialPage))
	m.HandleFunc("POST /ui/events/{id}/redial", c.guard(c.redial))
	m.HandleFunc("GET /ui/events/{id}/replay", c.guard(c.replayPage))
	m.HandleFunc("POST /ui/events/{id}/replay", c.guard(c.replay))
	m.HandleFunc("GET /ui/refused", c.guard(c.refusedPage))
	m.HandleFunc("GET /ui/sources", c.guard(c.sourcesPage))
	m.HandleFunc("GET /ui/sources/{name}/playground", c.guard(c.playgroundPage))
	m.HandleFunc("POST /ui/sources/{name}/playground", c.guard(c.playground))
	m.HandleFunc("GET /ui/health", c.guard(c.healthPage))
	m.HandleFunc("GET /ui/dnc", c.guard(c.dncPage))
	m.HandleFunc("POST /ui/dnc", c.guard(c.dncChange))
	m.HandleFunc("/ui/", c.guard(c.notFound))
	return m
}

// ServeHTTP implements http.Handler: every answer forbids framing, inline
// scripts and anything from elsewhere, and is not cached.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}
