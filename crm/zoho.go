package crm

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/url"

	"github.com/tidwall/gjson"

	"dialhook/mapping"
)

type zohoAdapter struct{ cfg Config }

func (a *zohoAdapter) Kind() string { return "zoho" }

// Dialect: Zoho's retry behaviour is undocumented; a mapping rejection is
// answered 200 so a workflow is not disabled for a data problem.
func (a *zohoAdapter) Dialect() Dialect { return Dialect{RejectStatus: 200} }

// Preset: Zoho has no event id. The id rule is the record id plus the body
// hash: a redelivery of the same body is a duplicate, a later edit of the
// same record is a new event.
func (a *zohoAdapter) Preset() map[string]any {
	return map[string]any{
		"destination": []any{"Mobile", "Phone", "mobile", "phone"},
		"owner":       []any{"Owner.id", "Owner", "owner", "Owner_Id", "owner_id"},
		"id":          map[string]any{"template": "{{$record_id}}:{{$body_hash}}"},
	}
}

// Authenticate checks the shared token: X-Dialhook-Token header, token query
// parameter, or token field of the form or JSON body (a Zoho "custom
// parameter").
func (a *zohoAdapter) Authenticate(r *Request) error {
	if a.cfg.Secret == "" && a.cfg.AllowUnauthenticated {
		return nil
	}
	if a.cfg.Secret == "" {
		return authErr("no token configured")
	}
	var bodyToken string
	switch form, obj, ok := zohoBody(r); {
	case ok && form != nil:
		bodyToken = form.Get("token")
	case ok && obj != nil:
		if t := gjson.GetBytes(obj, "token"); t.Type == gjson.String {
			bodyToken = t.Str
		}
	}
	return checkToken(a.cfg.Secret, r.Header.Get(tokenHeader), queryValue(r, "token"), bodyToken)
}

// zohoBody returns the body as form values or as a JSON object.
func zohoBody(r *Request) (form url.Values, obj []byte, ok bool) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(r.Body))
		if err != nil {
			return nil, nil, false
		}
		return v, nil, true
	}
	trimmed := bytes.TrimLeft(r.Body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return nil, r.Body, true
	}
	return nil, nil, false
}

func (a *zohoAdapter) Parse(r *Request) (*Batch, error) {
	form, obj, ok := zohoBody(r)
	if !ok {
		return nil, malformed("body must be a JSON object or an application/x-www-form-urlencoded form")
	}
	var rec []byte
	var err error
	if form != nil {
		flat := make(map[string]string, len(form))
		for k, vs := range form {
			if k != "token" && len(vs) > 0 {
				flat[k] = vs[0]
			}
		}
		rec, err = json.Marshal(flat)
	} else {
		rec = obj
		if gjson.GetBytes(obj, "token").Exists() {
			rec, err = objectWith(obj, map[string]any{"token": nil})
		}
	}
	if err != nil {
		return nil, malformed("body cannot be converted to a JSON object")
	}
	// The hash covers the record without the token, so rotating the token
	// does not defeat deduplication of a redelivery.
	ev := newEvent(&a.cfg, r, rec, hashHex(rec))
	ev.RecordID = firstStr(rec, "id", "Id", "record_id")
	return &Batch{Events: []mapping.Event{ev}}, nil
}
