package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"dialhook/config"
	"dialhook/crm"
	"dialhook/intake"
	"dialhook/store"
)

// errMappingFailed makes `dialhook map` exit non-zero after printing.
var errMappingFailed = errors.New("mapping failed (see errors above)")

// mapCommand is `dialhook map [--source NAME] [--config FILE] [--file payload]`:
// parse and map a sample payload as the webhook would, without recording or
// dialing. Signatures are not checked (the payload comes from a file), so
// no credential is needed: neither the sources' secrets nor uContact's or
// the admin token, and a ${VAR} left unset is no obstacle.
func mapCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var source, file, contentType string
	cfg, cfgErr := loadConfig("map", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&source, "source", "", "the configured source `NAME` whose kind and mapping to use (default: the configuration's only source)")
		fs.StringVar(&file, "file", "", "the payload `FILE`; - reads standard input (a pipe is read without it)")
		fs.StringVar(&contentType, "content-type", "", "the payload's Content-Type, a MIME `TYPE` (default: guessed from its first character)")
	}, stdout)
	var ce *config.Error
	if cfgErr != nil && (!errors.As(cfgErr, &ce) || errors.Is(cfgErr, config.ErrSyntax)) {
		return cfgErr // a flag, the file itself, or a file that set nothing
	}
	source, err := pickSource(&cfg, source)
	var ue *usageError
	switch {
	case errors.As(err, &ue) || (err != nil && cfgErr == nil):
		return err
	case err != nil:
		// The source missing first, then what else the configuration lacks.
		return fmt.Errorf("%w\nnote: the configuration also has problems (map would go on with these):\n%v", err, cfgErr)
	}
	src, err := mapSource(&cfg, source)
	switch {
	case err != nil && cfgErr != nil:
		var se *config.Error
		if errors.As(err, &se) { // the source's problems, with the file's, in one list
			return &config.Error{Problems: append(slices.Clone(ce.Problems), se.Problems...)}
		}
		return fmt.Errorf("%w\n%v", err, cfgErr) // the kind's problem is among them
	case err != nil:
		return err
	case cfgErr != nil:
		// Mostly ${VAR}s left unset: a note, not an alarm (the answer follows).
		fmt.Fprintf(stderr, "dialhook map: note: map checks no signature and needs no credential, so it goes on; "+
			"serve and check would want these first:\n  - %s\n", strings.Join(ce.Problems, "\n  - "))
	}
	return explain(ctx, &cfg, src, source, file, contentType, stdin, stdout, stderr)
}

// explain reads the payload and prints what the source would make of it.
func explain(ctx context.Context, cfg *config.Config, src *intake.Source, source, file, contentType string, stdin io.Reader, stdout, stderr io.Writer) error {
	body, err := readPayload(file, stdin, stderr, cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	h := http.Header{}
	if contentType == "" {
		contentType = crm.GuessContentType(body)
	}
	h.Set("Content-Type", contentType)
	req := &crm.Request{Method: http.MethodPost, URL: &url.URL{Path: "/webhooks/" + source}, Host: "localhost", Header: h, Body: body, Now: time.Now()}
	res, err := intake.NewPipeline(nil, cfg.DedupWindow.D(), 0).Explain(ctx, src, req)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	view := intake.View(src, src.Adapter.Kind(), res.Plans)
	if res.Ignored != "" {
		view.Note = "ignored: " + res.Ignored
	}
	if err := writeJSON(stdout, view); err != nil {
		return err
	}
	for _, e := range view.Events {
		if e.State == store.Rejected {
			return errMappingFailed
		}
	}
	return nil
}

// pickSource is the source --source names; without it, the configuration's
// only source, or its only webhook source (a ucontact source receives
// uContact's events, not a CRM's payloads).
func pickSource(cfg *config.Config, name string) (string, error) {
	names := cfg.SourceNames()
	if name != "" {
		if _, ok := cfg.Sources[name]; !ok {
			return "", fmt.Errorf("no source %q in %s (its sources: %s; give one with --source)", name, configName(cfg), strings.Join(names, ", "))
		}
		return name, nil
	}
	if len(names) == 1 {
		return names[0], nil
	}
	var webhooks []string
	for _, n := range names {
		if cfg.Sources[n].Kind != "ucontact" {
			webhooks = append(webhooks, n)
		}
	}
	if len(webhooks) == 1 {
		return webhooks[0], nil
	}
	return "", &usageError{msg: fmt.Sprintf("map: %s has %d sources (%s): say which with --source NAME",
		configName(cfg), len(names), strings.Join(names, ", ")), hint: mapHint}
}

// configName names the configuration in a message.
func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "the configuration (no --config file)"
	}
	return cfg.File
}

// mapSource builds the one source map needs, without its credentials.
func mapSource(cfg *config.Config, name string) (*intake.Source, error) {
	sc := cfg.Sources[name]
	if cfg.Refused("sources." + name + ".kind") {
		return nil, fmt.Errorf("source %q has no kind map can use", name)
	}
	// map never authenticates: its credentials are neither needed nor
	// checked (an unset ${VAR} is no obstacle).
	sc.AllowUnauthenticated = true
	sc.Secret, sc.BasicAuth, sc.AuthHeaders, sc.AuthQuery, sc.OrgIDs = "", nil, nil, nil, nil
	one := *cfg
	one.Sources = map[string]config.Source{name: sc}
	sources, _, err := buildSources(&one)
	if err != nil {
		return nil, err
	}
	if sources[name] == nil {
		return nil, fmt.Errorf("source %q cannot be built", name)
	}
	return sources[name], nil
}

// mapHint ends a map usage error instead of the whole usage.
const mapHint = "run `dialhook map --help` for every flag"

// readPayload reads --file, or standard input when asked (-) or piped; it
// never waits on a terminal unasked, and when asked to, says so.
func readPayload(file string, stdin io.Reader, stderr io.Writer, limit int64) ([]byte, error) {
	if file == "" && !piped(stdin) {
		return nil, &usageError{msg: "map: no payload: give --file FILE, --file - to read standard input, or pipe it in (cat payload.json | dialhook map --source NAME)",
			hint: mapHint}
	}
	var body []byte
	var err error
	if file == "" || file == "-" {
		if stdin == nil {
			return nil, errors.New("map: no standard input")
		}
		if terminal(stdin) {
			fmt.Fprintln(stderr, "reading the payload from standard input; end it with Ctrl-D")
		}
		body, err = io.ReadAll(io.LimitReader(stdin, limit+1))
	} else {
		body, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read payload: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("read payload: larger than max_body_bytes (%d)", limit)
	}
	return body, nil
}

// charDevice tells whether stdin is a character device (a terminal); ok is
// false when that cannot be told (no stdin, or its Stat fails). A reader
// that is not an *os.File (as in tests) is no terminal.
func charDevice(stdin io.Reader) (tty, ok bool) {
	if stdin == nil {
		return false, false
	}
	f, isFile := stdin.(*os.File)
	if !isFile {
		return false, true
	}
	st, err := f.Stat()
	if err != nil {
		return false, false
	}
	return st.Mode()&os.ModeCharDevice != 0, true
}

// piped reports whether stdin is a pipe or a file rather than a terminal.
func piped(stdin io.Reader) bool {
	tty, ok := charDevice(stdin)
	return ok && !tty
}

// terminal reports whether stdin is a terminal: what is read from it is
// typed, and ends with Ctrl-D.
func terminal(stdin io.Reader) bool {
	tty, ok := charDevice(stdin)
	return ok && tty
}

// writeJSON writes v indented, without HTML escaping (">" stays ">").
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
