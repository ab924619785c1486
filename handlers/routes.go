// Package handlers is dialhook's HTTP surface and the only package that
// imports Echo. It reads each webhook's raw body once under a size limit,
// lets the source's adapter authenticate it before anything parses it, maps
// it, records it, and answers the sender in its own dialect.
package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes lists every endpoint, top to bottom.
func (s *Server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})))

	e.POST("/webhooks/:source", s.webhook)

	admin := e.Group("", s.requireAdmin)
	admin.GET("/events", s.listEvents)
	admin.GET("/events/:id", s.getEvent)
	admin.POST("/events/:id/redial", s.redial)
	admin.GET("/calls/:guid", s.getCall)
}
