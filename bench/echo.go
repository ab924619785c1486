package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"dialhook/handlers"
)

// echoEnv, when set to an address, makes this program the bare Echo server
// instead of the harness: the harness starts itself again with it, so that
// the baseline runs in a process of its own, like dialhook.
const echoEnv = "DIALHOOK_BENCH_ECHO"

// serveEcho serves the baseline (handlers.Baseline: Echo with one route that
// reads the whole body and answers 202, nothing else) under the same server
// settings as dialhook's.
func serveEcho(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// The same server settings as dialhook's.
	srv := &http.Server{Handler: handlers.Baseline(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
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
