package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"dialhook/notify"
)

// usageError is a command line dialhook does not understand: main prints
// the usage (or, when the message says enough, the hint instead) and exits
// 2.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

// errHelp: the user asked for the usage; it was printed (exit 0).
var errHelp = errors.New("help requested")

// commands are dialhook's commands, in the order the usage lists them.
var commands = [][2]string{
	{"serve", "run the service (the default command)"},
	{"check", "validate a configuration and exit: 0 when it is fine, 1 with every problem listed"},
	{"map", "show what a payload would become (events, AgentCall parameters, every decision), without recording or dialing"},
	{"secret", "print a new random secret in the Standard Webhooks form (whsec_…), for a sender or a notify endpoint"},
	{"healthcheck", "ask a running dialhook whether it is ready (GET /readyz): exit 0 or 1; for container health checks"},
	{"version", "print the version (also --version)"},
	{"help", "print this help (also -h, --help); help CMD or CMD -h: one command's; help settings: every setting"},
}

// flagHelp lists each command's flags.
var flagHelp = [][3]string{
	{"serve, check, map", "--config FILE", "the YAML configuration (env DIALHOOK_CONFIG); without one: the defaults and the environment"},
	{"map", "--source NAME", "the configured source whose kind and mapping to use (default: the configuration's only source)"},
	{"map", "--file FILE", "the payload; - reads standard input (a pipe is read without it)"},
	{"map", "--content-type T", "the payload's Content-Type (default: guessed from its first character)"},
	{"healthcheck", "--url URL", "the readiness URL (default http://127.0.0.1:8080/readyz, the port from DIALHOOK_ADDR)"},
}

// usage prints how to call dialhook, with every command, flag and
// environment variable.
func usage(w io.Writer) {
	fmt.Fprint(w, `dialhook turns "call this lead" webhooks from CRMs into uContact AgentCall calls.

Usage:
  dialhook [command] [flags]

Commands:
`)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c[0], c[1])
	}
	_ = tw.Flush()
	fmt.Fprint(w, "\nFlags:\n")
	for _, f := range flagHelp {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f[1], "("+f[0]+")", f[2])
	}
	_ = tw.Flush()
	fmt.Fprint(w, "\nEnvironment (overrides the file; docs/settings.md has every YAML key):\n")
	printSettings(w)
	fmt.Fprint(w, "\nExamples:\n  dialhook                                   # serve on :8080, in-memory store, dry run\n"+
		"  dialhook check --config examples/hubspot.yaml\n"+
		"  dialhook map --config examples/hubspot.yaml --source hubspot --file examples/payloads/hubspot-workflow-contact.json\n")
}

// parseFlags parses a command's flags. -h and --help print the command's
// usage to stdout (errHelp); an unknown flag or a stray argument is a usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard) // the flag package's own usage lists one command only
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		commandUsage(stdout, fs)
		return errHelp
	case err != nil:
		return &usageError{msg: fs.Name() + ": " + err.Error()}
	case fs.NArg() > 0:
		return &usageError{msg: fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// wantsHelp reports whether args ask for the usage.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

// secretCommand prints a new Standard Webhooks secret: whsec_ and the
// base64 of 32 random bytes, for a source of kind standard or a notify
// endpoint.
func secretCommand(args []string, stdout io.Writer) error {
	if err := parseFlags(flag.NewFlagSet("secret", flag.ContinueOnError), args, stdout); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, notify.NewSecret())
	return err
}

// checkCommand loads a configuration and builds every source, without
// serving: every problem at once, or a summary of what would be served.
func checkCommand(args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, sources, warnings, err := configure("check", args, getenv, nil, stdout)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	names := webhookPaths(sources)
	file := cfg.File
	if file == "" {
		file = "(no file: defaults and environment)"
	}
	_, err = fmt.Fprintf(stdout, "configuration OK: %s\n  webhooks: %s\n", file, strings.Join(names, ", "))
	if err == nil && len(cfg.Notify) > 0 {
		// Names only: a URL may hold a token.
		_, err = fmt.Fprintf(stdout, "  notify: %s\n", strings.Join(cfg.NotifyNames(), ", "))
	}
	return err
}
