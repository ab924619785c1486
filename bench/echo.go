package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// echoEnv, when set to an address, makes this program the bare Echo server
// instead of the harness: the harness starts itself again with it, so that
// the baseline runs in a process of its own, like dialhook.
const echoEnv = "DIALHOOK_BENCH_ECHO"

// serveEcho is the baseline: Echo with one route that reads the whole body
// and answers 202, and nothing else (no middleware, no logging).
func serveEcho(addr string) error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/webhooks/:source", func(c echo.Context) error {
		if _, err := io.ReadAll(c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(http.StatusAccepted)
	})
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// The same server settings as dialhook's.
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

func echoMain(addr string) {
	if err := serveEcho(addr); err != nil {
		fmt.Fprintln(os.Stderr, "bench echo:", err)
		os.Exit(1)
	}
}
