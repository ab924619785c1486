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
	"time"

	"dialhook/crm"
	"dialhook/intake"
	"dialhook/store"
)

// errMappingFailed makes `dialhook map` exit non-zero after printing.
var errMappingFailed = errors.New("mapping failed (see errors above)")

// mapCommand is `dialhook map --source NAME [--config FILE] [--file payload]`:
// parse and map a sample payload as the webhook would, without recording or
// dialing. Signatures are not checked: the payload is read from a file.
func mapCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	var source, file, contentType string
	cfg, _, err := loadConfig("map", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&source, "source", "generic", "configured source name")
		fs.StringVar(&file, "file", "", "payload file (default: standard input)")
		fs.StringVar(&contentType, "content-type", "", "Content-Type of the payload (default: guessed)")
	})
	if err != nil {
		return err
	}
	sources, _, err := buildSources(&cfg)
	if err != nil {
		return err
	}
	src := sources[source]
	if src == nil {
		return fmt.Errorf("no source %q in the configuration", source)
	}
	var body []byte
	if file == "" || file == "-" {
		body, err = io.ReadAll(io.LimitReader(stdin, cfg.MaxBodyBytes+1))
	} else {
		body, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("read payload: %w", err)
	}
	h := http.Header{}
	if contentType == "" {
		contentType = guessType(body)
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
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(view); err != nil {
		return err
	}
	for _, e := range view.Events {
		if e.State == store.Rejected {
			return errMappingFailed
		}
	}
	return nil
}

func guessType(body []byte) string {
	for _, b := range body {
		switch b {
		case ' ', '\n', '\r', '\t':
			continue
		case '<':
			return "text/xml"
		case '{', '[':
			return "application/json"
		}
		break
	}
	return "application/x-www-form-urlencoded"
}
