// Command dialhook turns "call this lead" webhooks from CRMs into uContact
// AgentCall calls, placed once per event, with the call GUID recorded.
//
// The files of this package wire the others together (cli.go, serve.go,
// map.go, sources.go, notifier.go, healthcheck.go, ui.go). They must not
// hold a rule of their own: what a webhook means is intake's, what is stored
// is store's, how a call is placed is dispatch's and ucontact's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitCode is 0 for success and for a help that was asked for, 2 for a
// command line dialhook does not understand (the usage is printed, or a
// hint where to find it), 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue) && ue.hint != "":
		fmt.Fprintf(stderr, "dialhook: %v\n%s\n", err, ue.hint)
		return 2
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "dialhook: %v\n\n", err)
		usage(stderr)
		return 2
	}
	fmt.Fprintln(stderr, "dialhook:", err)
	return 1
}

// run is the whole program: main only calls it, tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if wantsHelp(args) { // dialhook -h: every command, not serve's alone
		usage(stdout)
		return errHelp
	}
	if cmd == "serve" && len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		cmd, args = "version", args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout)
	case "check":
		return checkCommand(args, getenv, stdout)
	case "map":
		return mapCommand(ctx, args, getenv, stdin, stdout, stderr)
	case "secret":
		return secretCommand(args, stdout)
	case "healthcheck":
		return healthcheckCommand(ctx, args, getenv, stdout)
	case "version":
		if err := parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args, stdout); err != nil {
			return err
		}
		_, err := fmt.Fprintln(stdout, "dialhook", version)
		return err
	case "help":
		return helpCommand(args, stdout, func(args []string) error {
			return run(ctx, args, getenv, stdin, stdout, stderr)
		})
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
}
