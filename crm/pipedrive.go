package crm

import (
	"strings"

	"github.com/tidwall/gjson"

	"dialhook/mapping"
)

type pipedriveAdapter struct{ base }

// newPipedrive checks a pipedrive source's Basic credentials.
func newPipedrive(cfg Config, need bool, bad problemf) Adapter {
	if cfg.BasicAuth == nil && need {
		bad("kind pipedrive needs basic_auth (the user and password set on the Pipedrive webhook)")
	}
	if cfg.BasicAuth != nil && (cfg.BasicAuth.User == "" || cfg.BasicAuth.Password == "") {
		bad("kind pipedrive: basic_auth needs both user and password")
	}
	return &pipedriveAdapter{base{cfg, Dialect{RejectStatus: 200}}}
}

func (a *pipedriveAdapter) Preset() map[string]any {
	return map[string]any{
		"destination": "_primary_phone",
		"owner":       "_owner_id",
	}
}

// Authenticate checks the HTTP Basic credentials set on the webhook.
func (a *pipedriveAdapter) Authenticate(r *Request) error {
	if a.cfg.BasicAuth == nil && a.cfg.AllowUnauthenticated {
		return nil
	}
	if a.cfg.BasicAuth == nil {
		return authErr("no credentials configured")
	}
	user, pass, ok := basicAuth(r.Header.Get("Authorization"))
	if !ok {
		return authErr("missing header")
	}
	u := equalConst(user, a.cfg.BasicAuth.User)
	p := equalConst(pass, a.cfg.BasicAuth.Password)
	if !u || !p {
		return authErr("bad credentials")
	}
	return nil
}

// Scheme implements Adapter.
func (a *pipedriveAdapter) Scheme(*Request) string { return "HTTP Basic credentials" }

// Parse accepts v2 ({meta, data, previous}) and v1 ({v:1, meta, current,
// previous, event}) bodies. Delete events are acknowledged and ignored.
func (a *pipedriveAdapter) Parse(r *Request) (*Batch, error) {
	if err := checkJSON(r.Body, "object"); err != nil {
		return nil, err
	}
	root := gjson.ParseBytes(r.Body)
	meta := root.Get("meta")
	if !meta.IsObject() {
		return nil, malformed("missing meta object")
	}
	v1 := str(root.Get("v")) == "1" || root.Get("event").Exists() || root.Get("current").Exists() ||
		strings.HasPrefix(str(meta.Get("version")), "1")
	ev := newEvent(&a.cfg, r, nil, bodyHash(r, r.Body, nil))
	var data gjson.Result
	if v1 {
		action, event := str(meta.Get("action")), str(root.Get("event"))
		if action == "deleted" || action == "delete" || strings.HasPrefix(event, "deleted.") {
			return &Batch{Ignored: "pipedrive delete event"}, nil
		}
		ev.Action = action
		ev.ObjectType = str(meta.Get("object"))
		if ev.ObjectType == "" {
			_, ev.ObjectType, _ = strings.Cut(event, ".")
		}
		data = root.Get("current")
		ev.RecordID = str(meta.Get("id"))
		if ev.RecordID == "" {
			ev.RecordID = str(data.Get("id"))
		}
		hook, micro := str(meta.Get("webhook_id")), str(meta.Get("timestamp_micro"))
		seconds := micro == ""
		if seconds {
			micro = str(meta.Get("timestamp"))
		}
		if hook == "" || ev.RecordID == "" || micro == "" {
			return nil, malformed("v1 meta needs webhook_id, id and timestamp_micro")
		}
		ev.DedupKey = hook + ":" + ev.RecordID + ":" + micro
		if seconds {
			// Two changes of one record within a second share the
			// second-resolution timestamp: tell them apart by content.
			ev.DedupKey += ":" + pipedriveV1Hash(r, ev.BodyHash)
		}
	} else {
		ev.Action = str(meta.Get("action"))
		if ev.Action == "delete" || ev.Action == "deleted" {
			return &Batch{Ignored: "pipedrive delete event"}, nil
		}
		ev.ObjectType = str(meta.Get("entity"))
		data = root.Get("data")
		ev.RecordID = str(meta.Get("entity_id"))
		if ev.RecordID == "" {
			ev.RecordID = str(data.Get("id"))
		}
		if ev.DedupKey = pipedriveV2Key(meta, ev.RecordID, ev.Action); ev.DedupKey == "" {
			return nil, malformed("v2 meta needs id")
		}
	}
	if !data.IsObject() {
		return nil, malformed("event carries no record (data/current is not an object)")
	}
	extra := map[string]any{}
	if p := pipedrivePrimaryPhone(data); p != "" {
		extra["_primary_phone"] = p
	}
	if o := pipedriveOwner(data.Get("owner_id")); o != "" {
		extra["_owner_id"] = o
	}
	rec, err := objectWith([]byte(data.Raw), extra)
	if err != nil {
		return nil, malformed("record is not a JSON object")
	}
	ev.Record = rec
	return &Batch{Events: []mapping.Event{ev}}, nil
}

// pipedriveV2Key is a v2 event's dedup key ("" without meta.id). v2's
// meta.id is "ID of the event triggering the webhook" and meta.entity_id
// "ID of the object" (Pipedrive, Guide for Webhooks v2, "Webhook's meta
// block": https://pipedrive.readme.io/docs/guide-for-webhooks-v2#webhooks-meta-block),
// and a retry repeats the event with meta.attempt raised: the event id
// alone tells two changes of one deal apart and keeps a retry's key. A
// body whose id is its entity's (published example payloads have one) adds
// the action and the event's timestamp, which a retry keeps.
func pipedriveV2Key(meta gjson.Result, recordID, action string) string {
	id := str(meta.Get("id"))
	if id == "" || id != recordID {
		return id
	}
	return strings.Join([]string{id, action, str(meta.Get("timestamp"))}, ":")
}

// pipedriveV1Hash hashes a v1 body without its top-level retry counter,
// which Pipedrive raises on every redelivery: a redelivery keeps the hash,
// another change does not. fallback is used if the body cannot be
// re-encoded.
func pipedriveV1Hash(r *Request, fallback string) string {
	b, err := objectWith(r.Body, map[string]any{"retry": nil})
	if err != nil {
		return fallback
	}
	return bodyHash(r, b, nil)
}

// pipedrivePrimaryPhone returns the primary phone of phones (v2) or phone
// (v1): the entry marked primary, else the first non-empty; a plain string
// is taken as is.
func pipedrivePrimaryPhone(data gjson.Result) string {
	for _, key := range []string{"phones", "phone"} {
		v := data.Get(key)
		switch {
		case v.Type == gjson.String && v.Str != "":
			return v.Str
		case v.IsArray():
			first := ""
			for _, e := range v.Array() {
				val := str(e)
				if e.IsObject() {
					val = str(e.Get("value"))
				}
				if val == "" {
					continue
				}
				if e.Get("primary").Bool() {
					return val
				}
				if first == "" {
					first = val
				}
			}
			if first != "" {
				return first
			}
		}
	}
	return ""
}

// pipedriveOwner normalizes owner_id (number, string, or {id|value}) to a string.
func pipedriveOwner(v gjson.Result) string {
	if v.IsObject() {
		return firstStr([]byte(v.Raw), "id", "value")
	}
	if v.IsArray() {
		return ""
	}
	return str(v)
}
