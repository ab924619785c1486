package handlers

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Baseline is the load harness's yardstick: Echo with one webhook route that
// reads the whole body and answers 202, and a /healthz, and nothing else (no
// middleware, no logging). It lives here so that Echo stays imported by this
// package alone (a move to Echo v5 touches handlers/ only).
func Baseline() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/webhooks/:source", func(c echo.Context) error {
		if _, err := io.ReadAll(c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(http.StatusAccepted)
	})
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	return e
}
