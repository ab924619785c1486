package crm

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"dialhook/internal/samples"
)

func stdRequest(id, ts, sig string, body []byte) *Request {
	return post("/webhooks/std", body, "webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig)
}

func TestStandardAuthenticate(t *testing.T) {
	a := mustNew(t, Config{Name: "std", Kind: "standard", Secret: samples.StandardSecret})
	body := samples.Body(samples.StandardCall)
	now, stale, future := secondsAround(6 * time.Minute)
	good := samples.StandardSignature(samples.StandardSecret, "msg_1", now, body)
	other := samples.StandardSignature("whsec_b3RoZXIta2V5LW90aGVyLWtleQ==", "msg_1", now, body)
	runAuth(t, a, []authCase{
		{"good", stdRequest("msg_1", now, good, body), nil, ""},
		{"several signatures, one good", stdRequest("msg_1", now, other+" v2,abc "+good, body), nil, ""},
		{"other key", stdRequest("msg_1", now, other, body), ErrUnauthenticated, "bad signature"},
		{"other id", stdRequest("msg_2", now, good, body), ErrUnauthenticated, "bad signature"},
		{"wrong version", stdRequest("msg_1", now, "v1a"+good[2:], body), ErrUnauthenticated, "bad signature"},
		{"stale", stdRequest("msg_1", stale, samples.StandardSignature(samples.StandardSecret, "msg_1", stale, body), body), ErrUnauthenticated, "stale timestamp"},
		{"future", stdRequest("msg_1", future, samples.StandardSignature(samples.StandardSecret, "msg_1", future, body), body), ErrUnauthenticated, "timestamp in the future"},
		{"missing", post("/", body, "webhook-id", "msg_1"), ErrUnauthenticated, "missing header"},
	}, samples.StandardSecret, samples.StandardSecret[6:], good[3:])
}

func TestStandardParse(t *testing.T) {
	a := mustNew(t, Config{Name: "std", Kind: "standard", Secret: samples.StandardSecret})
	body := samples.Body(samples.StandardCall)
	now := strconv.FormatInt(testNow.Unix(), 10)
	ev := one(t, mustParse(t, a, stdRequest("msg_1", now, samples.StandardSignature(samples.StandardSecret, "msg_1", now, body), body)))
	wantEvent(t, ev, "msg_1", "", "", "")
	if field(t, ev, "destination") != `"+59899765432"` {
		t.Errorf("record %s", ev.Record)
	}
	_, err := a.Parse(stdRequest("msg_1", now, "", []byte(`[1]`)))
	checkErr(t, err, ErrMalformed)
}

func TestStandardSvixHeaders(t *testing.T) {
	a := mustNew(t, Config{Name: "std", Kind: "standard", Secret: samples.StandardSecret})
	body := samples.Body(samples.StandardCall)
	now := strconv.FormatInt(testNow.Unix(), 10)
	good := samples.StandardSignature(samples.StandardSecret, "msg_1", now, body)
	svix := func(id, ts, sig string) *Request {
		return post("/webhooks/std", body, "svix-id", id, "svix-timestamp", ts, "svix-signature", sig)
	}
	mixed := post("/webhooks/std", body, "svix-id", "msg_1", "webhook-timestamp", now, "svix-signature", good)
	both := post("/webhooks/std", body, "webhook-id", "msg_1", "webhook-timestamp", now, "webhook-signature", good,
		"svix-id", "msg_2", "svix-timestamp", now, "svix-signature", "v1,bad")
	runAuth(t, a, []authCase{
		{"svix headers", svix("msg_1", now, good), nil, ""},
		{"svix headers, other id", svix("msg_2", now, good), ErrUnauthenticated, "bad signature"},
		{"svix headers, stale", svix("msg_1", "1", samples.StandardSignature(samples.StandardSecret, "msg_1", "1", body)), ErrUnauthenticated, "stale timestamp"},
		{"sets are not mixed", mixed, ErrUnauthenticated, "missing header"},
		{"webhook-* set used when both are complete", both, nil, ""},
	}, samples.StandardSecret, good[3:])

	ev := one(t, mustParse(t, a, svix("msg_1", now, good)))
	wantEvent(t, ev, "msg_1", "", "", "")
}

func TestStandardSecretForms(t *testing.T) {
	const raw = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // 24 bytes: no padding in any form
	key, _ := base64.StdEncoding.DecodeString(raw)
	padded := base64.StdEncoding.EncodeToString(key[:23]) // 23 bytes: one "=" of padding
	urlSafe := base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0x01, 0x02})
	for _, c := range []struct {
		name, secret string
		key          []byte
		notes        []string // substrings of the warning; none: no warning
	}{
		{"canonical", "whsec_" + raw, key, nil},
		{"canonical padded", "whsec_" + padded, key[:23], nil},
		{"no prefix", raw, key, []string{"without the whsec_ prefix"}},
		{"unpadded", "whsec_" + strings.TrimRight(padded, "="), key[:23], []string{"unpadded base64"}},
		{"no prefix, unpadded", strings.TrimRight(padded, "="), key[:23], []string{"whsec_ prefix", "unpadded base64"}},
		{"URL-safe", "whsec_" + urlSafe, []byte{0xfb, 0xff, 0xfe, 0x01, 0x02}, []string{"URL-safe base64"}},
		{"URL-safe unpadded", "whsec_" + strings.TrimRight(urlSafe, "="), []byte{0xfb, 0xff, 0xfe, 0x01, 0x02}, []string{"unpadded URL-safe"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := mustNew(t, Config{Name: "std", Kind: "standard", Secret: c.secret})
			if got := a.(*standardAdapter).key; string(got) != string(c.key) {
				t.Errorf("key %x, want %x", got, c.key)
			}
			w := a.(Warner).Warnings()
			if len(c.notes) == 0 {
				if len(w) != 0 {
					t.Errorf("warnings %q for a canonical secret", w)
				}
				return
			}
			if len(w) != 1 {
				t.Fatalf("got %d warnings, want 1: %q", len(w), w)
			}
			for _, n := range append(c.notes, `source "std"`) {
				if !strings.Contains(w[0], n) {
					t.Errorf("warning %q does not say %q", w[0], n)
				}
			}
			if strings.Contains(w[0], strings.TrimPrefix(c.secret, "whsec_")) {
				t.Errorf("warning %q discloses the secret", w[0])
			}
		})
	}
	// A secret the reference libraries accept verifies their signature.
	a := mustNew(t, Config{Name: "std", Kind: "standard", Secret: raw})
	body := samples.Body(samples.StandardCall)
	now := strconv.FormatInt(testNow.Unix(), 10)
	if err := a.Authenticate(stdRequest("msg_1", now, samples.StandardSignature(samples.StandardSecret, "msg_1", now, body), body)); err != nil {
		t.Errorf("secret without prefix: %v", err)
	}
	for _, bad := range []string{"whsec_!!!", "whsec_", "not base64 at all"} {
		if _, err := New(Config{Name: "std", Kind: "standard", Secret: bad}); err == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
}
