package crm

import (
	"strconv"
	"testing"
	"time"

	"dialhook/internal/samples"
)

// closeSign signs as Close does with samples.CloseKey.
func closeSign(ts string, body []byte) string {
	return samples.CloseSignature(samples.CloseKey, ts, body)
}

func closeRequest(body []byte, ts string, sig string) *Request {
	return post("/webhooks/close", body, "close-sig-hash", sig, "close-sig-timestamp", ts, "Content-Type", "application/json")
}

func TestCloseAuthenticate(t *testing.T) {
	a := mustNew(t, Config{Name: "close", Kind: "close", Secret: samples.CloseKey})
	body := samples.Body(samples.CloseLeadCreated)
	now, stale, future := secondsAround(301 * time.Second)
	good := closeSign(now, body)
	runAuth(t, a, []authCase{
		{"good", closeRequest(body, now, good), nil, ""},
		{"upper-case hex", closeRequest(body, now, hexUpper(good)), nil, ""},
		{"bad signature", closeRequest(body, now, closeSign(now, []byte("{}"))), ErrUnauthenticated, "bad signature"},
		{"timestamp not signed", closeRequest(body, stale, good), ErrUnauthenticated, "stale timestamp"},
		{"stale", closeRequest(body, stale, closeSign(stale, body)), ErrUnauthenticated, "stale timestamp"},
		{"future", closeRequest(body, future, closeSign(future, body)), ErrUnauthenticated, "timestamp in the future"},
		{"ms timestamp", closeRequest(body, now+"000", closeSign(now+"000", body)), ErrUnauthenticated, "timestamp in the future"},
		{"bad timestamp", closeRequest(body, "-1", good), ErrUnauthenticated, "bad timestamp"},
		{"missing", post("/", body), ErrUnauthenticated, "missing header"},
	}, samples.CloseKey, good)
}

func hexUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestCloseParse(t *testing.T) {
	a := mustNew(t, Config{Name: "close", Kind: "close", Secret: samples.CloseKey})
	body := samples.Body(samples.CloseLeadCreated)
	ts := strconv.FormatInt(testNow.Unix(), 10)
	ev := one(t, mustParse(t, a, closeRequest(body, ts, closeSign(ts, body))))
	wantEvent(t, ev, "ev_2EoTkiI2UgXmA9hIk5Jyb0", "lead", "lead_7KcVQy2RkN3nB8mT", "created")
	if string(ev.Record) != string(body) {
		t.Error("record is not the body")
	}
	// Redelivered with a new timestamp and signature: same event id.
	ts2 := strconv.FormatInt(testNow.Unix()+60, 10)
	ev2 := one(t, mustParse(t, a, closeRequest(body, ts2, closeSign(ts2, body))))
	if ev2.DedupKey != ev.DedupKey {
		t.Error("redelivery changed the dedup key")
	}
	for _, c := range []struct{ name, body string }{
		{"not JSON", "x"},
		{"no event", `{"subscription_id":"whsub_1"}`},
		{"event without id", `{"event":{"object_type":"lead"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(post("/", []byte(c.body)))
			checkErr(t, err, ErrMalformed)
		})
	}
}
