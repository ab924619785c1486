package crm

import (
	"encoding/base64"
	"strings"
	"testing"

	"dialhook/internal/samples"
)

func TestPipedriveAuthenticate(t *testing.T) {
	a := mustNew(t, Config{Name: "pd", Kind: "pipedrive", BasicAuth: &BasicAuth{User: samples.PipedriveUser, Password: samples.PipedrivePassword}})
	body := samples.Body(samples.PipedriveV2Person)
	runAuth(t, a, []authCase{
		{"good", post("/", body, "Authorization", samples.BasicAuth(samples.PipedriveUser, samples.PipedrivePassword)), nil, ""},
		{"lower-case scheme", post("/", body, "Authorization", "basic "+base64.StdEncoding.EncodeToString([]byte(samples.PipedriveUser+":"+samples.PipedrivePassword))), nil, ""},
		{"wrong password", post("/", body, "Authorization", samples.BasicAuth(samples.PipedriveUser, "nope")), ErrUnauthenticated, "bad credentials"},
		{"wrong user", post("/", body, "Authorization", samples.BasicAuth("admin", samples.PipedrivePassword)), ErrUnauthenticated, "bad credentials"},
		{"missing", post("/", body), ErrUnauthenticated, "missing header"},
		{"bearer", post("/", body, "Authorization", "Bearer "+samples.PipedrivePassword), ErrUnauthenticated, "missing header"},
		{"bad base64", post("/", body, "Authorization", "Basic !!!"), ErrUnauthenticated, "missing header"},
	}, samples.PipedrivePassword)
}

func TestPipedriveParse(t *testing.T) {
	a := mustNew(t, Config{Name: "pd", Kind: "pipedrive", AllowUnauthenticated: true})

	t.Run("v2 person", func(t *testing.T) {
		ev := one(t, mustParse(t, a, post("/", samples.Body(samples.PipedriveV2Person))))
		wantEvent(t, ev, "7c1f3b2e-5a44-4e0b-9a1d-2f6c8e9b0a11", "person", "812", "change")
		if p, o := field(t, ev, "_primary_phone"), field(t, ev, "_owner_id"); p != `"+54 9 11 5123-4567"` || o != `"20441"` {
			t.Errorf("_primary_phone %s, _owner_id %s", p, o)
		}
		if field(t, ev, "name") != `"Camila Rodriguez"` {
			t.Error("record lost data fields")
		}
	})

	t.Run("v1 person", func(t *testing.T) {
		ev := one(t, mustParse(t, a, post("/", samples.Body(samples.PipedriveV1Person))))
		wantEvent(t, ev, "5520:813:1795607990123456", "person", "813", "added")
		if p, o := field(t, ev, "_primary_phone"), field(t, ev, "_owner_id"); p != `"+598 99 888 777"` || o != `"20441"` {
			t.Errorf("_primary_phone %s, _owner_id %s", p, o)
		}
	})

	t.Run("redelivery keeps dedup key", func(t *testing.T) {
		body := samples.Body(samples.PipedriveV2Person)
		again := []byte(strings.Replace(string(body), `"attempt": 1`, `"attempt": 2`, 1))
		e1 := one(t, mustParse(t, a, post("/", body)))
		e2 := one(t, mustParse(t, a, post("/", again)))
		if e1.DedupKey != e2.DedupKey || e1.BodyHash == e2.BodyHash {
			t.Errorf("dedup %q/%q", e1.DedupKey, e2.DedupKey)
		}
	})

	for _, c := range []struct{ name, body, phone, owner, dedup string }{
		{"numeric ids, string phone, owner object with value",
			`{"meta":{"action":"create","entity":"person","id":99,"entity_id":5},"data":{"id":5,"phone":"+598 99 1","owner_id":{"value":7}}}`,
			`"+598 99 1"`, `"7"`, "99"},
		{"no primary: first non-empty",
			`{"meta":{"action":"create","entity":"person","id":"e1"},"data":{"id":5,"phones":[{"value":""},{"value":"22"},{"value":"33"}],"owner_id":"8"}}`,
			`"22"`, `"8"`, "e1"},
		{"no phone, no owner",
			`{"meta":{"action":"create","entity":"deal","id":"e2"},"data":{"id":5}}`, ``, ``, "e2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := one(t, mustParse(t, a, post("/", []byte(c.body))))
			if p, o := field(t, ev, "_primary_phone"), field(t, ev, "_owner_id"); p != c.phone || o != c.owner || ev.DedupKey != c.dedup {
				t.Errorf("_primary_phone %s, _owner_id %s, dedup %q", p, o, ev.DedupKey)
			}
		})
	}

	for _, c := range []struct{ name, body string }{
		{"v2 delete", string(samples.Body(samples.PipedriveV2Delete))},
		{"v1 deleted", `{"v":1,"meta":{"action":"deleted","object":"person","id":813,"webhook_id":"5520","timestamp_micro":1},"current":null,"previous":{"id":813},"event":"deleted.person"}`},
		{"v1 event deleted.*", `{"v":1,"meta":{"object":"deal","id":1},"event":"deleted.deal"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := mustParse(t, a, post("/", []byte(c.body)))
			if b.Ignored != "pipedrive delete event" || len(b.Events) != 0 {
				t.Errorf("batch %+v", b)
			}
		})
	}

	for _, c := range []struct{ name, body string }{
		{"not JSON", `meta=1`},
		{"array", `[{"meta":{}}]`},
		{"no meta", `{"data":{"id":1}}`},
		{"v2 change without data", `{"meta":{"action":"change","id":"x"},"data":null}`},
		{"v2 without event id", `{"meta":{"action":"change"},"data":{"id":1}}`},
		{"v1 without webhook id", `{"v":1,"meta":{"action":"added","id":1,"timestamp_micro":2},"current":{"id":1}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(post("/", []byte(c.body)))
			checkErr(t, err, ErrMalformed)
		})
	}
}

func FuzzPipedrive(f *testing.F) {
	f.Add(samples.Body(samples.PipedriveV2Person))
	f.Add(samples.Body(samples.PipedriveV1Person))
	f.Add(samples.Body(samples.PipedriveV2Delete))
	a := mustNew(f, Config{Name: "pd", Kind: "pipedrive", AllowUnauthenticated: true})
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := a.Parse(post("/", body))
		if err != nil {
			return
		}
		if (b.Ignored == "") == (len(b.Events) == 0) || len(b.Events) > 1 {
			t.Fatalf("batch %+v", b)
		}
		for _, ev := range b.Events {
			if ev.DedupKey == "" {
				t.Fatal("no dedup key")
			}
		}
	})
}
