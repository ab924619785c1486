package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"dialhook/config"
)

// commandEnv is the environment each command reads, beyond its flags.
var commandEnv = map[string][][2]string{
	"serve": configEnv,
	"check": configEnv,
	"map": {configEnv[0], {"${VAR}", "a variable the file refers to; map needs no credential, so one left unset is no obstacle"},
		configEnv[2]},
	"healthcheck": {{"DIALHOOK_ADDR", "the port of the default --url"}},
}

// configEnv is what every command that reads a configuration reads.
var configEnv = [][2]string{
	{"DIALHOOK_CONFIG", "the configuration file, when --config is not given"},
	{"${VAR}", "a variable the file refers to"},
	{"DIALHOOK_ADDR, UCONTACT_TOKEN, …", "every setting has one, which overrides the file: dialhook help settings / docs/settings.md"},
}

// commandUsage prints one command's usage: what it does, its flags with
// their defaults, the environment it reads, and the other commands.
func commandUsage(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	what := ""
	for _, c := range commands {
		if c[0] == name {
			what = c[1]
		}
	}
	flags := ""
	fs.VisitAll(func(*flag.Flag) { flags = " [flags]" })
	fmt.Fprintf(w, "dialhook %s: %s\n\nUsage:\n  dialhook %s%s\n", name, what, name, flags)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	if flags != "" {
		fmt.Fprint(w, "\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			arg, doc := flag.UnquoteUsage(f)
			if f.DefValue != "" {
				doc += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(tw, "  --%s %s\t%s\n", f.Name, arg, doc)
		})
		_ = tw.Flush()
	}
	if env := commandEnv[name]; len(env) > 0 {
		fmt.Fprint(w, "\nEnvironment:\n")
		for _, e := range env {
			fmt.Fprintf(tw, "  %s\t%s\n", e[0], e[1])
		}
		_ = tw.Flush()
	}
	fmt.Fprint(w, "\nOther commands (dialhook help CMD for one, dialhook help for all):\n")
	for _, c := range commands {
		if c[0] != name {
			fmt.Fprintf(tw, "  %s\t%s\n", c[0], c[1])
		}
	}
	_ = tw.Flush()
}

// printSettings prints every setting that an environment variable sets,
// with its YAML key, default and meaning.
func printSettings(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\t--config\tdefault (empty)\t%s\n", configEnv[0][0], configEnv[0][1])
	for _, s := range config.Settings() {
		if s.Env == "" {
			continue
		}
		def := s.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(tw, "  %s\t%s\tdefault %s\t%s\n", s.Env, s.Key, def, s.Doc)
	}
	_ = tw.Flush()
}

// helpCommand is `dialhook help [CMD | settings]`: the whole usage, one
// command's (as CMD -h prints it), or every setting.
func helpCommand(args []string, stdout io.Writer, runCmd func([]string) error) error {
	switch {
	case len(args) == 0 || args[0] == "help":
		usage(stdout)
		return errHelp
	case len(args) > 1:
		return &usageError{msg: fmt.Sprintf("help: unexpected argument %q", args[1])}
	case args[0] == "settings":
		fmt.Fprint(stdout, "Settings read from the environment (they override the file; docs/settings.md has every YAML key):\n")
		printSettings(stdout)
		return errHelp
	}
	for _, c := range commands {
		if c[0] == args[0] {
			return runCmd([]string{c[0], "-h"})
		}
	}
	return &usageError{msg: fmt.Sprintf("help: unknown command %q", args[0])}
}
