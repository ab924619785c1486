// Package handlers is dialhook's HTTP surface and the only package that
// imports Echo. It reads each webhook's raw body once under a size limit,
// hands it to intake (which authenticates it before anything parses it,
// maps it and records it), and answers the sender in its own dialect.
//
// It must not: hold the webhook pipeline (intake does), import go-redis, or
// be imported by anything but main. Moving to Echo v5 touches this package
// only (echo.Context becomes *echo.Context).
package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes lists every endpoint, top to bottom.
func (s *Server) routes(e *echo.Echo) {
	probe := writeDeadline(s.writes.Probe, false)
	e.GET("/healthz", s.healthz, probe)
	e.GET("/readyz", s.readyz, probe)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})), probe)

	e.POST("/webhooks/:source", s.webhook, writeDeadline(s.writes.Webhook, true))

	// Admin routes take the middleware one by one: a Group with an empty
	// prefix would also put it in front of every unmatched path (Echo adds a
	// catch-all for group middleware), answering 403/401 instead of 404/405.
	admin := writeDeadline(s.writes.Admin, false)
	e.GET("/events", s.listEvents, admin, s.requireAdmin)
	e.GET("/events/:id", s.getEvent, admin, s.requireAdmin)
	e.POST("/events/:id/redial", s.redial, admin, s.requireAdmin)
	e.GET("/calls/:guid", s.getCall, admin, s.requireAdmin)

	// The do-not-call list. Import and export stream: no write deadline.
	e.GET("/dnc", s.listDNC, admin, s.requireAdmin)
	e.GET("/dnc/export", s.exportDNC, s.requireAdmin)
	e.POST("/dnc/import", s.importDNC, s.requireAdmin)
	e.PUT("/dnc/:number", s.putDNC, admin, s.requireAdmin)
	e.DELETE("/dnc/:number", s.deleteDNC, admin, s.requireAdmin)

	// The console applies the admin rule itself (a sign-in page instead of
	// a bearer token): it is a plain http.Handler that sees the full path.
	if s.console != nil {
		e.Any("/ui/*", echo.WrapHandler(s.console), admin)
		e.GET("/ui", redirectTo("/ui/"))
		e.GET("/", redirectTo("/ui/"))
	}
}

func redirectTo(target string) echo.HandlerFunc {
	return func(c echo.Context) error { return c.Redirect(http.StatusFound, target) }
}
