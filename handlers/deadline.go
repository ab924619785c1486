package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// WriteTimeouts bound how long writing an answer may take, by kind of
// route. A client that stops reading would otherwise hold the handler's
// goroutine and its buffers for as long as it likes (the server has no
// global WriteTimeout: ?wait= answers are slow by design).
type WriteTimeouts struct {
	Webhook time.Duration // webhooks, on top of their ?wait= (default 15s)
	Admin   time.Duration // /events, /calls and the other admin answers (default 30s)
	Probe   time.Duration // /healthz, /readyz, /metrics (default 10s)
}

func (w WriteTimeouts) withDefaults() WriteTimeouts {
	if w.Webhook <= 0 {
		w.Webhook = 15 * time.Second
	}
	if w.Admin <= 0 {
		w.Admin = 30 * time.Second
	}
	if w.Probe <= 0 {
		w.Probe = 10 * time.Second
	}
	return w
}

// writeDeadline sets the connection's write deadline for this request to
// now + d (+ the ?wait= time the handler may spend, for webhooks).
func writeDeadline(d time.Duration, withWait bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			limit := d
			if withWait {
				if w, err := parseWait(c.QueryParam("wait")); err == nil {
					limit += w
				}
			}
			// Not every ResponseWriter supports deadlines (httptest's
			// recorder does not): then there is no connection to protect.
			_ = http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Now().Add(limit))
			return next(c)
		}
	}
}
