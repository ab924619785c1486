package crm

import (
	"testing"

	"dialhook/internal/samples"
)

func TestGenericAuthenticate(t *testing.T) {
	body := samples.Body(samples.GenericCall)
	open := mustNew(t, Config{Name: "g", Kind: "generic"})
	tok := mustNew(t, Config{Name: "g", Kind: "generic", Secret: samples.GenericToken})
	runAuth(t, open, []authCase{{"no secret configured", post("/", body), nil, ""}})
	runAuth(t, tok, []authCase{
		{"header", post("/", body, "X-Dialhook-Token", samples.GenericToken), nil, ""},
		{"query", post("/?token="+samples.GenericToken, body), nil, ""},
		{"wrong", post("/", body, "X-Dialhook-Token", "gen-token-3457"), ErrUnauthenticated, "bad token"},
		{"missing", post("/", body), ErrUnauthenticated, "missing token"},
	}, samples.GenericToken)
}

func TestGenericParse(t *testing.T) {
	a := mustNew(t, Config{Name: "g", Kind: "generic"})
	body := samples.Body(samples.GenericCall)
	ev := one(t, mustParse(t, a, post("/", body, "Idempotency-Key", "idem-1")))
	wantEvent(t, ev, "idem-1", "", "", "")
	if string(ev.Record) != string(body) || ev.BodyHash != hashHex(body) || ev.Source != "g" {
		t.Error("record, hash or source wrong")
	}
	ev = one(t, mustParse(t, a, post("/", body)))
	if ev.DedupKey != "" {
		t.Errorf("dedup %q without Idempotency-Key", ev.DedupKey)
	}
	for _, b := range []string{`[{"a":1}]`, `"x"`, `{"a":`, ``} {
		_, err := a.Parse(post("/", []byte(b)))
		checkErr(t, err, ErrMalformed)
	}
}

func TestGenericURLParameters(t *testing.T) {
	a := mustNew(t, Config{Name: "g", Kind: "generic", Secret: samples.GenericToken})
	body := []byte(`{"destination":"099 123 456","owner":"ana@example.com"}`)
	ev := one(t, mustParse(t, a, post("/?event_id=e7&destination=1&token="+samples.GenericToken+"&wait=5s&dry_run=true", body)))
	for k, want := range map[string]string{
		"event_id": `"e7"`, "destination": `"099 123 456"`, "owner": `"ana@example.com"`,
		"token": "", "wait": "", "dry_run": "",
	} {
		if got := field(t, ev, k); got != want {
			t.Errorf("record[%s] = %s, want %s", k, got, want)
		}
	}
}
