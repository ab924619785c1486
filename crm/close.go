package crm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"dialhook/mapping"
)

type closeAdapter struct {
	base
	key []byte // hex-decoded signature key
}

// newClose checks and decodes a close source's signature key. Close retries
// failed deliveries; a mapping rejection is answered 200.
func newClose(cfg Config, need bool, bad problemf) Adapter {
	a := &closeAdapter{base: base{cfg, Dialect{RejectStatus: 200}}}
	decodeSecret(cfg, need, bad, "the webhook subscription's signature_key, hex", "the hex signature_key Close returned",
		func(s string) (err error) {
			if a.key, err = decodeHex(s); err == nil && len(a.key) == 0 {
				err = errors.New("empty key")
			}
			return err
		})
	return a
}

func (a *closeAdapter) Preset() map[string]any {
	return map[string]any{
		"destination": []any{"event.data.phones.0.phone", "event.data.contacts.0.phones.0.phone"},
		"owner":       []any{"event.data.user_id", "event.user_id"},
	}
}

// Authenticate verifies close-sig-hash = hex(HMAC-SHA256(key, timestamp +
// body)) and that close-sig-timestamp (seconds) is within the clock skew.
func (a *closeAdapter) Authenticate(r *Request) error {
	if a.key == nil && a.cfg.AllowUnauthenticated {
		return nil
	}
	sig, ts := r.Header.Get("close-sig-hash"), r.Header.Get("close-sig-timestamp")
	if sig == "" || ts == "" {
		return authErr("missing header")
	}
	mac, err := timestampedMAC(r, a.key, ts, time.Second, a.cfg.ClockSkew, []byte(ts), r.Body)
	if err != nil {
		return err
	}
	if !equalConst(strings.ToLower(strings.TrimSpace(sig)), hex.EncodeToString(mac)) {
		return authErr("bad signature")
	}
	return nil
}

// Scheme implements Adapter.
func (a *closeAdapter) Scheme(*Request) string {
	return "Close signature (close-sig-hash, close-sig-timestamp)"
}

func (a *closeAdapter) Parse(r *Request) (*Batch, error) {
	if err := checkJSON(r.Body, "object"); err != nil {
		return nil, err
	}
	event := gjson.GetBytes(r.Body, "event")
	if !event.IsObject() {
		return nil, malformed("missing event object")
	}
	ev := newEvent(&a.cfg, r, r.Body, bodyHash(r, r.Body, nil))
	if ev.DedupKey = str(event.Get("id")); ev.DedupKey == "" {
		return nil, malformed("event has no id")
	}
	ev.ObjectType = str(event.Get("object_type"))
	ev.RecordID = firstStr([]byte(event.Raw), "object_id", "lead_id")
	ev.Action = str(event.Get("action"))
	if lead := str(event.Get("lead_id")); lead != "" && ev.ObjectType == "lead" && a.cfg.APIKey != "" {
		// Lead events carry contact_ids, not the contacts' phones: when the
		// record does not map, the dispatcher fetches the lead's contacts.
		ev.Fetch = &mapping.Fetch{Need: mapping.FetchCloseLead, Ref: lead}
	}
	return &Batch{Events: []mapping.Event{ev}}, nil
}

// Warnings implements Warner: without an API key, lead events cannot give
// a phone number (they carry contact ids only).
func (a *closeAdapter) Warnings() []string {
	if a.cfg.APIKey != "" {
		return nil
	}
	return []string{fmt.Sprintf("source %q (kind close) has no api_key: Close lead events (lead.created, lead.updated) carry "+
		"contact ids, not phone numbers, so they are rejected by the mapping; set api_key (a Close API key) to fetch the "+
		"lead's contacts before the call, or subscribe to contact.created alone instead (never to both: a lead created with a "+
		"contact sends both, and the contact would be called twice)", a.cfg.Name)}
}
