package crm

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"dialhook/mapping"
)

type standardAdapter struct {
	base
	key []byte // decoded secret
	// notes says what was assumed to decode the secret, for the start-up
	// warning (empty for a canonical whsec_ + padded base64 secret).
	notes []string
}

// newStandard checks and decodes a standard source's secret. Standard
// Webhooks senders (Svix and others) show the status: a mapping rejection
// is a 422.
func newStandard(cfg Config, need bool, bad problemf) Adapter {
	a := &standardAdapter{base: base{cfg, Dialect{RejectStatus: 422}}}
	decodeSecret(cfg, need, bad, "whsec_ followed by base64", "whsec_ followed by base64", func(s string) (err error) {
		a.key, a.notes, err = decodeWhsec(s)
		return err
	})
	return a
}

func (a *standardAdapter) Preset() map[string]any { return identityPreset() }

// Warnings says how a secret in a non-canonical form was read.
func (a *standardAdapter) Warnings() []string {
	if len(a.notes) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("source %q (kind standard): the secret is not whsec_ followed by padded base64; read it as %s "+
		"(if signatures fail, copy the secret again from the sender)", a.cfg.Name, strings.Join(a.notes, ", "))}
}

// stdHeaderSets are the Standard Webhooks header names
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
// and the ones Svix sends unless the account pays for white-labelling.
// Svix's own library reads the svix-* set and falls back to webhook-*
// (https://github.com/svix/svix-webhooks/blob/main/go/webhook.go).
var stdHeaderSets = [...][3]string{
	{"webhook-id", "webhook-timestamp", "webhook-signature"},
	{"svix-id", "svix-timestamp", "svix-signature"},
}

// stdHeaders returns id, timestamp and signature from the first complete
// header set, so that a request never mixes the two; when neither set is
// complete, the first id header present (for the dedup key of an
// unauthenticated source) and empty timestamp and signature.
func stdHeaders(r *Request) (id, ts, sigs string) {
	for _, set := range stdHeaderSets {
		id, ts, sigs = r.Header.Get(set[0]), r.Header.Get(set[1]), r.Header.Get(set[2])
		if id != "" && ts != "" && sigs != "" {
			return id, ts, sigs
		}
	}
	for _, set := range stdHeaderSets {
		if id = r.Header.Get(set[0]); id != "" {
			return id, "", ""
		}
	}
	return "", "", ""
}

// Authenticate verifies webhook-signature (or svix-signature) over
// id.timestamp.body; any of its space-separated v1 entries may match
// (senders rotating keys send several).
func (a *standardAdapter) Authenticate(r *Request) error {
	if a.key == nil && a.cfg.AllowUnauthenticated {
		return nil
	}
	id, ts, sigs := stdHeaders(r)
	if id == "" || ts == "" || sigs == "" {
		return authErr("missing header")
	}
	mac, err := timestampedMAC(r, a.key, ts, time.Second, a.cfg.ClockSkew, []byte(id), []byte("."), []byte(ts), []byte("."), r.Body)
	if err != nil {
		return err
	}
	want := base64.StdEncoding.EncodeToString(mac)
	match := false
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if ok && version == "v1" && equalConst(sig, want) {
			match = true
		}
	}
	if !match {
		return authErr("bad signature")
	}
	return nil
}

// Scheme implements Adapter: the header set the request used.
func (a *standardAdapter) Scheme(r *Request) string {
	if r.Header.Get("svix-signature") != "" && r.Header.Get("webhook-signature") == "" {
		return "Standard Webhooks signature (svix-* headers)"
	}
	return "Standard Webhooks signature (webhook-* headers)"
}

func (a *standardAdapter) Parse(r *Request) (*Batch, error) {
	if err := checkJSON(r.Body, "object"); err != nil {
		return nil, err
	}
	ev := newEvent(&a.cfg, r, r.Body, bodyHash(r, r.Body, nil))
	ev.DedupKey, _, _ = stdHeaders(r)
	return &Batch{Events: []mapping.Event{ev}}, nil
}

// decodeWhsec decodes a Standard Webhooks secret: "whsec_" + base64. Like the
// reference libraries it also takes the base64 without the prefix (the Go
// library trims an optional prefix,
// https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/go/webhook.go)
// and unpadded base64 (the Python library pads before decoding,
// libraries/python/standardwebhooks/webhooks.py); URL-safe base64 is
// accepted too. notes says which of these was assumed.
func decodeWhsec(s string) (key []byte, notes []string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		notes = append(notes, "base64 without the whsec_ prefix")
	}
	encodings := []struct {
		enc  *base64.Encoding
		note string
	}{
		{base64.StdEncoding, ""},
		{base64.RawStdEncoding, "unpadded base64"},
		{base64.URLEncoding, "URL-safe base64"},
		{base64.RawURLEncoding, "unpadded URL-safe base64"},
	}
	for _, e := range encodings {
		key, err = e.enc.DecodeString(rest)
		if err != nil {
			continue
		}
		if len(key) == 0 {
			return nil, nil, errors.New("empty key")
		}
		if e.note != "" {
			notes = append(notes, e.note)
		}
		return key, notes, nil
	}
	return nil, nil, errors.New("not base64")
}
