package crm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"

	"github.com/tidwall/gjson"

	"dialhook/mapping"
)

// zohoMaxFields bounds the fields of a form or multipart body. The body is
// already capped by max_body_bytes; this caps the map built from it.
const zohoMaxFields = 1000

type zohoAdapter struct{ base }

// newZoho checks a zoho source's shared token. Zoho's retry behaviour is
// undocumented; a mapping rejection is answered 200 so a workflow is not
// disabled for a data problem.
func newZoho(cfg Config, need bool, bad problemf) Adapter {
	needSecret(cfg, need, bad, "the shared token sent as X-Dialhook-Token or the token parameter")
	return &zohoAdapter{base{cfg, Dialect{RejectStatus: 200}}}
}

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
// parameter, or token field of the form, multipart or JSON body (a Zoho
// "custom parameter").
func (a *zohoAdapter) Authenticate(r *Request) error {
	if a.cfg.Secret == "" && a.cfg.AllowUnauthenticated {
		return nil
	}
	if a.cfg.Secret == "" {
		return authErr("no token configured")
	}
	var bodyToken string
	switch form, obj, err := zohoBody(r); {
	case err != nil:
	case form != nil:
		bodyToken = form.Get("token")
	case obj != nil:
		if t := gjson.GetBytes(obj, "token"); t.Type == gjson.String {
			bodyToken = t.Str
		}
	}
	return checkToken(a.cfg.Secret, r.Header.Get(tokenHeader), queryValue(r, "token"), bodyToken)
}

var errZohoBody = errors.New("body must be a JSON object, an application/x-www-form-urlencoded form or a multipart/form-data form")

// zohoBody returns the body as form values (urlencoded, multipart, or an
// empty body: Zoho can send every parameter in the URL) or as a JSON
// object.
func zohoBody(r *Request) (form url.Values, obj []byte, err error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := bytes.TrimLeft(r.Body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return url.Values{}, nil, nil
	case ct == "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(r.Body))
		if err != nil || len(v) > zohoMaxFields {
			return nil, nil, errors.New("body is not a valid application/x-www-form-urlencoded form")
		}
		return v, nil, nil
	case ct == "multipart/form-data":
		v, err := multipartFields(r.Body, params["boundary"])
		if err != nil {
			return nil, nil, err
		}
		return v, nil, nil
	case trimmed[0] == '{' && json.Valid(trimmed):
		return nil, r.Body, nil
	}
	return nil, nil, errZohoBody
}

// multipartFields reads the fields of a multipart/form-data body, part by
// part and in memory: file parts are skipped, nothing is written to disk
// (multipart.Reader.ReadForm would spill large parts to temp files). The
// body is already bounded by max_body_bytes, so every read is too.
func multipartFields(body []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("multipart/form-data body without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	form := url.Values{}
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return form, nil
		}
		if err != nil {
			return nil, fmt.Errorf("multipart/form-data body: %w", err)
		}
		if n == zohoMaxFields {
			return nil, fmt.Errorf("multipart/form-data body has more than %d parts", zohoMaxFields)
		}
		name := p.FormName()
		if name == "" || p.FileName() != "" {
			continue // a file, or a part that is no form field
		}
		v, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("multipart/form-data part %q: %w", name, err)
		}
		form.Add(name, string(v))
	}
}

// Scheme implements Adapter.
func (a *zohoAdapter) Scheme(*Request) string {
	return "shared token (X-Dialhook-Token, ?token= or a token field)"
}

func (a *zohoAdapter) Parse(r *Request) (*Batch, error) {
	form, obj, err := zohoBody(r)
	if err != nil {
		return nil, malformed(err.Error())
	}
	rec, err := zohoRecord(form, obj, recordParams(r))
	if err != nil {
		return nil, malformed("body cannot be converted to a JSON object")
	}
	if bytes.Equal(rec, []byte("{}")) {
		return nil, malformed("no record: the body is empty and the URL carries no parameters")
	}
	// The hash covers the record without the token, so rotating the token
	// does not defeat deduplication of a redelivery.
	ev := newEvent(&a.cfg, r, rec, bodyHash(r, rec, tokenParam))
	ev.RecordID = firstStr(rec, "id", "Id", "record_id")
	return &Batch{Events: []mapping.Event{ev}}, nil
}

// zohoRecord builds the record from the form or JSON body, without the
// token, plus the URL parameters the body does not have (Zoho webhooks may
// carry every parameter in the URL with an empty body).
func zohoRecord(form url.Values, obj []byte, params map[string]string) ([]byte, error) {
	if form != nil {
		flat := make(map[string]string, len(form)+len(params))
		for k, v := range params {
			flat[k] = v
		}
		for k, vs := range form {
			if k != "token" && len(vs) > 0 {
				flat[k] = vs[0]
			}
		}
		return json.Marshal(flat)
	}
	rec := obj
	if gjson.GetBytes(obj, "token").Exists() {
		var err error
		if rec, err = objectWith(obj, map[string]any{"token": nil}); err != nil {
			return nil, err
		}
	}
	return withParams(rec, params)
}
