package crm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"
)

const stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// stdSign is a separate Standard Webhooks signer.
func stdSign(secret, id, ts string, body []byte) string {
	k, _ := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func stdRequest(id, ts, sig string, body []byte) *Request {
	return post("/webhooks/std", body, "webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig)
}

func TestStandardAuthenticate(t *testing.T) {
	a := mustNew(t, Config{Name: "std", Kind: "standard", Secret: stdSecret})
	body := sample(t, "standard-call.json")
	now := strconv.FormatInt(testNow.Unix(), 10)
	stale := strconv.FormatInt(testNow.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(testNow.Add(6*time.Minute).Unix(), 10)
	good := stdSign(stdSecret, "msg_1", now, body)
	other := stdSign("whsec_b3RoZXIta2V5LW90aGVyLWtleQ==", "msg_1", now, body)
	runAuth(t, a, []authCase{
		{"good", stdRequest("msg_1", now, good, body), nil, ""},
		{"several signatures, one good", stdRequest("msg_1", now, other+" v2,abc "+good, body), nil, ""},
		{"other key", stdRequest("msg_1", now, other, body), ErrUnauthenticated, "bad signature"},
		{"other id", stdRequest("msg_2", now, good, body), ErrUnauthenticated, "bad signature"},
		{"wrong version", stdRequest("msg_1", now, "v1a"+good[2:], body), ErrUnauthenticated, "bad signature"},
		{"stale", stdRequest("msg_1", stale, stdSign(stdSecret, "msg_1", stale, body), body), ErrUnauthenticated, "stale timestamp"},
		{"future", stdRequest("msg_1", future, stdSign(stdSecret, "msg_1", future, body), body), ErrUnauthenticated, "timestamp in the future"},
		{"missing", post("/", body, "webhook-id", "msg_1"), ErrUnauthenticated, "missing header"},
	}, stdSecret, stdSecret[6:], good[3:])
}

func TestStandardParse(t *testing.T) {
	a := mustNew(t, Config{Name: "std", Kind: "standard", Secret: stdSecret})
	body := sample(t, "standard-call.json")
	now := strconv.FormatInt(testNow.Unix(), 10)
	ev := one(t, mustParse(t, a, stdRequest("msg_1", now, stdSign(stdSecret, "msg_1", now, body), body)))
	wantEvent(t, ev, "msg_1", "", "", "")
	if field(t, ev, "destination") != `"+59899765432"` {
		t.Errorf("record %s", ev.Record)
	}
	_, err := a.Parse(stdRequest("msg_1", now, "", []byte(`[1]`)))
	checkErr(t, err, ErrMalformed)
}
