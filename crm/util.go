package crm

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// equalConst compares two strings in time independent of where they differ.
func equalConst(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func decodeHex(s string) ([]byte, error) { return hex.DecodeString(strings.TrimSpace(s)) }

// checkTimestamp accepts ts within skew of now, both ways.
func checkTimestamp(ts, now time.Time, skew time.Duration) error {
	switch d := now.Sub(ts); {
	case d > skew:
		return authErr("stale timestamp")
	case d < -skew:
		return authErr("timestamp in the future")
	}
	return nil
}

// timestampedMAC checks a signed timestamp header ts (a decimal count of
// unit since the epoch: seconds for Close and Standard Webhooks,
// milliseconds for HubSpot v3) against r.Now within skew, and returns
// HMAC-SHA256(key, parts...) for the caller to compare in constant time.
// The timestamp must be one of parts for the check to mean anything.
func timestampedMAC(r *Request, key []byte, ts string, unit, skew time.Duration, parts ...[]byte) ([]byte, error) {
	n, err := parseUnix(ts)
	if err != nil {
		return nil, authErr("bad timestamp")
	}
	if err := checkTimestamp(time.Unix(0, 0).Add(time.Duration(n)*unit), r.Now, skew); err != nil {
		return nil, err
	}
	return hmacSHA256(key, parts...), nil
}

// parseUnix parses a decimal integer timestamp header (seconds or ms).
func parseUnix(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, errors.New("bad timestamp")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("bad timestamp")
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// jsonObject reports whether b is a valid JSON document whose top level is
// an object.
func jsonObject(b []byte) bool { return checkJSON(b, "object") == nil }

// checkJSON says what is wrong with a body that should be valid JSON whose
// top level is one of kinds ("object", "array"): empty, not JSON (with the
// parser's message and the byte offset where it stopped), or JSON of
// another kind. The error is a *MalformedError.
func checkJSON(b []byte, kinds ...string) error {
	want := "a JSON " + strings.Join(kinds, " or ")
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 {
		return malformed("the body is empty; want " + want)
	}
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return malformed(fmt.Sprintf("the body is not valid JSON: %s (at byte %d of %d); want %s", se.Error(), se.Offset, len(b), want))
		}
		return malformed("the body is not valid JSON: " + err.Error())
	}
	got := map[byte]string{'{': "object", '[': "array", '"': "string", 't': "boolean", 'f': "boolean", 'n': "null"}[t[0]]
	if got == "" {
		got = "number"
	}
	for _, k := range kinds {
		if k == got {
			return nil
		}
	}
	return malformed("the body must be " + want + ", not a JSON " + got)
}

// str renders a JSON value as a string: strings unquoted, numbers as
// written, null/missing as "". Objects and arrays give their raw JSON.
func str(r gjson.Result) string {
	switch r.Type {
	case gjson.Null:
		return ""
	case gjson.String:
		return r.Str
	case gjson.Number:
		return r.Raw
	}
	return r.Raw
}

// firstStr returns the first non-empty of the paths in the JSON body.
func firstStr(body []byte, paths ...string) string {
	for _, p := range paths {
		if s := str(gjson.GetBytes(body, p)); s != "" {
			return s
		}
	}
	return ""
}

// objectWith re-encodes a JSON object with extra keys set (nil removes).
func objectWith(obj []byte, set map[string]any) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[k] = b
	}
	return json.Marshal(m)
}

// withParams returns obj with the params whose keys obj lacks (the body
// wins over the URL), or obj itself when there is nothing to add.
func withParams(obj []byte, params map[string]string) ([]byte, error) {
	if len(params) == 0 {
		return obj, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	added := false
	for k, v := range params {
		if _, ok := m[k]; ok {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[k], added = b, true
	}
	if !added {
		return obj, nil
	}
	return json.Marshal(m)
}

// basicAuth parses an "Authorization: Basic ..." header.
func basicAuth(h string) (user, pass string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(dec), ":")
	return user, pass, ok
}
