package crm

import (
	"strings"
	"testing"
)

const zohoToken = "zoho-shared-token"

func TestZohoAuthenticate(t *testing.T) {
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: zohoToken})
	form := sample(t, "zoho-lead-form.txt")
	noToken := []byte(strings.Replace(string(form), "&token="+zohoToken, "", 1))
	js := sample(t, "zoho-lead.json")
	const ct = "Content-Type"
	const formCT = "application/x-www-form-urlencoded"
	runAuth(t, a, []authCase{
		{"form field", post("/", form, ct, formCT), nil, ""},
		{"header", post("/", noToken, ct, formCT, "X-Dialhook-Token", zohoToken), nil, ""},
		{"query", post("/?token="+zohoToken, noToken, ct, formCT), nil, ""},
		{"json field", post("/", js, ct, "application/json"), nil, ""},
		{"json without content type", post("/", js), nil, ""},
		{"wrong header", post("/", form, ct, formCT, "X-Dialhook-Token", "guess"), ErrUnauthenticated, "bad token"},
		{"wrong query", post("/?token=guess", noToken, ct, formCT), ErrUnauthenticated, "bad token"},
		{"missing", post("/", noToken, ct, formCT), ErrUnauthenticated, "missing token"},
		{"form body sent as text", post("/", form, ct, "text/plain"), ErrUnauthenticated, "missing token"},
	}, zohoToken)
}

func TestZohoParse(t *testing.T) {
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: zohoToken})
	t.Run("form", func(t *testing.T) {
		ev := one(t, mustParse(t, a, post("/", sample(t, "zoho-lead-form.txt"), "Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")))
		wantEvent(t, ev, "", "", "5725767000000412345", "")
		if field(t, ev, "token") != "" || field(t, ev, "Full_Name") != `"Martín Lopez"` || field(t, ev, "Mobile") != `"+598 99 555 111"` {
			t.Errorf("record %s", ev.Record)
		}
	})
	t.Run("json", func(t *testing.T) {
		ev := one(t, mustParse(t, a, post("/", sample(t, "zoho-lead.json"), "Content-Type", "application/json")))
		wantEvent(t, ev, "", "", "5725767000000412345", "")
		if strings.Contains(string(ev.Record), zohoToken) || field(t, ev, "Owner") != `{"id":"5725767000000211001","name":"Ana Gomez"}` {
			t.Errorf("record %s", ev.Record)
		}
	})
	t.Run("redelivery with another token keeps the hash", func(t *testing.T) {
		body := sample(t, "zoho-lead.json")
		e1 := one(t, mustParse(t, a, post("/", body)))
		e2, err := a.Parse(post("/", []byte(strings.Replace(string(body), zohoToken, "rotated", 1))))
		if err != nil || e2.Events[0].BodyHash != e1.BodyHash {
			t.Errorf("hash changed with the token: %v", err)
		}
	})
	for _, c := range []struct{ name, ct, body string }{
		{"text", "text/plain", "hello"},
		{"json array", "application/json", `[{"id":1}]`},
		{"bad form", "application/x-www-form-urlencoded", "a=%zz"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(post("/", []byte(c.body), "Content-Type", c.ct))
			checkErr(t, err, ErrMalformed)
		})
	}
}
