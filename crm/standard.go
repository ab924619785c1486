package crm

import (
	"encoding/base64"
	"strings"
	"time"

	"dialhook/mapping"
)

type standardAdapter struct {
	cfg Config
	key []byte // base64-decoded secret after whsec_
}

func (a *standardAdapter) Kind() string { return "standard" }

// Dialect: Standard Webhooks senders (Svix and others) show the status.
func (a *standardAdapter) Dialect() Dialect { return Dialect{RejectStatus: 422} }

func (a *standardAdapter) Preset() map[string]any { return identityPreset() }

// Authenticate verifies webhook-signature over id.timestamp.body; any of its
// space-separated v1 entries may match (senders rotating keys send several).
func (a *standardAdapter) Authenticate(r *Request) error {
	if a.key == nil && a.cfg.AllowUnauthenticated {
		return nil
	}
	id, ts, sigs := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return authErr("missing header")
	}
	sec, err := parseUnix(ts)
	if err != nil {
		return authErr("bad timestamp")
	}
	if err := checkTimestamp(time.Unix(sec, 0), r.Now, a.cfg.ClockSkew); err != nil {
		return err
	}
	want := base64.StdEncoding.EncodeToString(hmacSHA256(a.key, []byte(id), []byte("."), []byte(ts), []byte("."), r.Body))
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

func (a *standardAdapter) Parse(r *Request) (*Batch, error) {
	if !jsonObject(r.Body) {
		return nil, malformed("body must be a JSON object")
	}
	ev := newEvent(&a.cfg, r, r.Body, hashHex(r.Body))
	ev.DedupKey = r.Header.Get("webhook-id")
	return &Batch{Events: []mapping.Event{ev}}, nil
}
