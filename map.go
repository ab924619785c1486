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
	"strings"
	"time"

	"dialhook/config"
	"dialhook/crm"
	"dialhook/intake"
	"dialhook/store"
)

// errMappingFailed makes `dialhook map` exit non-zero after printing.
var errMappingFailed = errors.New("mapping failed (see errors above)")

// mapCommand is `dialhook map --source NAME [--config FILE] [--file payload]`:
// parse and map a sample payload as the webhook would, without recording or
// dialing. Signatures are not checked (the payload comes from a file), so
// no credential is needed: neither the sources' secrets nor uContact's or
// the admin token, and a ${VAR} left unset is no obstacle.
func mapCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var source, file, contentType string
	cfg, cfgErr := loadConfig("map", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&source, "source", "generic", "configured source name")
		fs.StringVar(&file, "file", "", "payload file; - for standard input")
		fs.StringVar(&contentType, "content-type", "", "Content-Type of the payload (default: guessed)")
	}, stdout)
	var ce *config.Error
	if cfgErr != nil && !errors.As(cfgErr, &ce) {
		return cfgErr // a flag or the file itself
	}
	src, err := mapSource(&cfg, source)
	if err != nil {
		if cfgErr != nil {
			return cfgErr
		}
		return err
	}
	if cfgErr != nil {
		fmt.Fprintf(stderr, "dialhook map: note: the configuration has problems that do not stop map:\n%v\n", cfgErr)
	}
	body, err := readPayload(file, stdin, cfg.MaxBodyBytes)
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

// mapSource builds the one source map needs, without its credentials.
func mapSource(cfg *config.Config, name string) (*intake.Source, error) {
	sc, ok := cfg.Sources[name]
	if !ok {
		return nil, fmt.Errorf("no source %q in the configuration (sources: %s)", name, strings.Join(cfg.SourceNames(), ", "))
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
	return sources[name], nil
}

// readPayload reads --file, or standard input when asked (-) or piped; it
// never waits on a terminal.
func readPayload(file string, stdin io.Reader, limit int64) ([]byte, error) {
	if file == "" && !piped(stdin) {
		return nil, &usageError{msg: "map: no payload: give --file FILE, --file - to read standard input, or pipe it in (cat payload.json | dialhook map --source NAME)"}
	}
	var body []byte
	var err error
	if file == "" || file == "-" {
		if stdin == nil {
			return nil, errors.New("map: no standard input")
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

// piped reports whether stdin is a pipe or a file rather than a terminal
// (a reader that is not an *os.File, as in tests, counts as piped).
func piped(stdin io.Reader) bool {
	if stdin == nil {
		return false
	}
	f, ok := stdin.(*os.File)
	if !ok {
		return true
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice == 0
}

// writeJSON writes v indented, without HTML escaping (">" stays ">").
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
