package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"dialhook/intake"
	"dialhook/internal/access"
	"dialhook/internal/outage"
	"dialhook/metrics"
	"dialhook/store"
)

// Store is what the handlers need of the store.
type Store interface {
	Accept(ctx context.Context, subs []store.Submission) ([]store.Accepted, error)
	Get(ctx context.Context, id string) (*store.Event, error)
	GetByGUID(ctx context.Context, guid string) (*store.Event, error)
	Lookup(ctx context.Context, dedupKey string) (*store.Event, error)
	List(ctx context.Context, q store.ListQuery) (store.Page, error)
	NewEventID(dedupKey string) string
	Redial(ctx context.Context, id string, r store.Redial) (*store.Event, error)
	Ready(ctx context.Context) error
	RecordCallEvent(ctx context.Context, ce store.CallEvent) (*store.Event, store.CallResult, error)
}

// Options are the dependencies and settings of the Server.
type Options struct {
	Log         *zap.Logger
	Store       Store
	Metrics     *metrics.Metrics
	Sources     map[string]*intake.Source
	AdminToken  string
	MaxBody     int64
	DedupWindow time.Duration
	// StoreTimeout bounds the store's answer to a webhook (default 2s):
	// past it the webhook answers 503 instead of waiting for a stalled store.
	StoreTimeout time.Duration
	// StoreDown tracks the store's outages; shared with the dispatcher and
	// the notifier, one outage logs one start line and one back line
	// (nil: one of its own).
	StoreDown *outage.Tracker
	WaitPoll  time.Duration // how often ?wait= looks at the record (default 50ms)
	// WriteTimeouts bound how long an answer may take to write, per route
	// kind (defaults in writeTimeouts): a client that never reads cannot
	// hold a goroutine and its buffers for longer.
	WriteTimeouts WriteTimeouts
	// Console is the operator console, served under /ui/ (and / redirects
	// there); nil leaves it off and / answers 404.
	Console http.Handler
	Now     func() time.Time
	// Recorder keeps refused deliveries and per-source counts for the
	// console (nil: none kept).
	Recorder *intake.Recorder
	// KeepRequests records each event's request as received, its body up to
	// InspectBody bytes (the console's inspect.max_body).
	KeepRequests bool
	InspectBody  int
	// NormalizeNumber reads a phone number as destinations are read (the
	// do-not-call list's numbers); nil: no list.
	NormalizeNumber func(raw string) (string, error)
}

// Server serves dialhook's HTTP API.
type Server struct {
	log        *zap.Logger
	store      Store
	metrics    *metrics.Metrics
	sources    map[string]*intake.Source
	intake     *intake.Pipeline
	storeDown  *outage.Tracker
	adminToken []byte
	maxBody    int64
	dedup      time.Duration
	storeWait  time.Duration
	waitPoll   time.Duration
	writes     WriteTimeouts
	console    http.Handler
	now        func() time.Time
	echo       *echo.Echo
	recorder   *intake.Recorder
	normalize  func(raw string) (string, error)
}

// New builds the Server and its routes.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = 24 * time.Hour
	}
	if o.WaitPoll <= 0 {
		o.WaitPoll = 50 * time.Millisecond
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 2 * time.Second
	}
	if o.StoreDown == nil {
		o.StoreDown = outage.New(o.Log, "store", outage.WithFull(store.IsFull))
	}
	s := &Server{
		log: o.Log, store: o.Store, metrics: o.Metrics, sources: o.Sources, adminToken: []byte(o.AdminToken),
		maxBody: o.MaxBody, dedup: o.DedupWindow, storeWait: o.StoreTimeout, waitPoll: o.WaitPoll,
		writes: o.WriteTimeouts.withDefaults(), console: o.Console, now: o.Now,
		intake:    intake.NewPipeline(o.Store, o.DedupWindow, o.StoreTimeout),
		storeDown: o.StoreDown,
		recorder:  o.Recorder,
		normalize: o.NormalizeNumber,
	}
	if o.KeepRequests {
		s.intake.KeepRequests(o.InspectBody)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.JSONSerializer = jsonSerializer{}
	e.HTTPErrorHandler = errorHandler(o.Log)
	s.routes(e)
	s.echo = e
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.storeWait)
	defer cancel()
	err := s.store.Ready(ctx)
	switch {
	case err == nil:
		// Ready wrote (its probe) and found memory: the store is back,
		// whatever the outage was.
		s.storeDown.OK()
	case errors.Is(err, store.ErrUnavailable):
		// The outage's to tell, once: probes come every few seconds.
		s.storeDown.Failed("checking readiness", err)
	default:
		s.log.Warn("not ready", zap.Error(err))
	}
	if err != nil {
		if mf := (*store.MemoryFull)(nil); errors.As(err, &mf) {
			return newError(http.StatusServiceUnavailable, "store_full", mf.Error())
		}
		if errors.Is(err, store.ErrFull) {
			return newError(http.StatusServiceUnavailable, "store_full", "the store is out of memory: "+err.Error())
		}
		return newError(http.StatusServiceUnavailable, "store_unavailable", "the store is unreachable")
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// requireAdmin lets a request through with the admin bearer token, or,
// when no token is configured, from a loopback address only.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.checkAdmin(c.Request()); err != nil {
			return err
		}
		return next(c)
	}
}

func (s *Server) checkAdmin(r *http.Request) error {
	if len(s.adminToken) > 0 {
		got, ok := access.Bearer(r.Header.Get("Authorization"))
		if !ok || subtle.ConstantTimeCompare([]byte(got), s.adminToken) != 1 {
			return newError(http.StatusUnauthorized, "unauthorized", "admin endpoints need Authorization: Bearer <DIALHOOK_ADMIN_TOKEN>")
		}
		return nil
	}
	if !access.Loopback(r) {
		return newError(http.StatusForbidden, "forbidden", "admin endpoints answer loopback clients only while DIALHOOK_ADMIN_TOKEN is not set, and a request that came through a proxy or tunnel (such as ngrok) is not one; set DIALHOOK_ADMIN_TOKEN")
	}
	return nil
}

func (s *Server) getEvent(c echo.Context) error {
	e, err := s.store.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return storeError(err, "event")
	}
	return c.JSON(http.StatusOK, e)
}

func (s *Server) getCall(c echo.Context) error {
	e, err := s.store.GetByGUID(c.Request().Context(), c.Param("guid"))
	if err != nil {
		return storeError(err, "call")
	}
	return c.JSON(http.StatusOK, e)
}

func (s *Server) listEvents(c echo.Context) error {
	state := store.State(c.QueryParam("state"))
	if !state.Valid() {
		return newError(http.StatusBadRequest, "bad_state", "state must be one of "+stateNames())
	}
	limit := 50
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return newError(http.StatusBadRequest, "bad_limit", "limit must be a whole number from 1 to 1000")
		}
		limit = n
	}
	page, err := s.store.List(c.Request().Context(), store.ListQuery{State: state, Limit: limit, Cursor: c.QueryParam("cursor")})
	if errors.Is(err, store.ErrBadCursor) {
		return newError(http.StatusBadRequest, "bad_cursor", "cursor must be the next_cursor of a previous page")
	}
	if err != nil {
		return storeError(err, "events")
	}
	if page.Events == nil {
		page.Events = []*store.Event{}
	}
	ans := map[string]any{"state": state, "events": page.Events}
	if page.Next != "" {
		ans["next_cursor"] = page.Next
	}
	return c.JSON(http.StatusOK, ans)
}

func (s *Server) redial(c echo.Context) error {
	ctx, id := c.Request().Context(), c.Param("id")
	r := store.Redial{At: s.now().UTC(), Client: clientAddr(c.Request())}
	e, err := s.store.Redial(ctx, id, r)
	switch {
	case errors.Is(err, store.ErrNotRedialable):
		// A mapping rejection has incomplete parameters (often no
		// destination): dialing them would call nobody, or the wrong number.
		return newError(http.StatusConflict, "not_redialable", "the event's mapping failed, so it has no complete call parameters; fix the data or the mapping and send the event again (same event id): it is mapped again and, if it maps now, dialed once")
	case errors.Is(err, store.ErrConflict):
		msg := store.RedialRule
		if e != nil {
			msg += "; this one is " + string(e.State)
		}
		return newError(http.StatusConflict, "not_redialable", msg)
	case err != nil:
		return storeError(err, "event")
	}
	s.log.Info("redial requested", zap.String("event_id", e.ID), zap.String("client", r.Client))
	return c.JSON(http.StatusAccepted, map[string]any{"event_id": e.ID, "status": e.State})
}

// clientAddr is the TCP peer address (not a header a client can forge).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func storeError(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", what+" not found")
	case errors.Is(err, store.ErrUnavailable):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "the store is unreachable; try again", Err: err}
	}
	return err
}

// stateNames lists the states GET /events accepts: every state the store
// has (store.States, which State.Valid checks against).
func stateNames() string {
	names := make([]string, len(store.States))
	for i, st := range store.States {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}
