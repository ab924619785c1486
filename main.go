// Command dialhook turns "call this lead" webhooks from CRMs into uContact
// AgentCall calls, placed once per event, with the call GUID recorded.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dialhook:", err)
		os.Exit(1)
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// run is the whole program: main only calls it, tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout)
	case "map":
		return mapCommand(ctx, args, getenv, os.Stdin, stdout)
	case "version":
		_, err := fmt.Fprintln(stdout, "dialhook", version)
		return err
	}
	return fmt.Errorf("unknown command %q (commands: serve, map, version)", cmd)
}
