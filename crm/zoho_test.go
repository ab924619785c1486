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

// multipartBody builds a multipart/form-data body; a field named "file:x"
// becomes a file part named x.
func multipartBody(boundary string, fields ...string) []byte {
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("--" + boundary + "\r\n")
		if name, ok := strings.CutPrefix(fields[i], "file:"); ok {
			b.WriteString(`Content-Disposition: form-data; name="` + name + `"; filename="lead.csv"` + "\r\nContent-Type: text/csv\r\n\r\n")
		} else {
			b.WriteString(`Content-Disposition: form-data; name="` + fields[i] + `"` + "\r\n\r\n")
		}
		b.WriteString(fields[i+1] + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return []byte(b.String())
}

func TestZohoMultipart(t *testing.T) {
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: zohoToken})
	const ct = "multipart/form-data; boundary=xYzZY"
	body := multipartBody("xYzZY", "id", "5725767000000412345", "Mobile", "+598 99 555 111",
		"file:attachment", "token,"+zohoToken+"\n", "token", zohoToken, "Full_Name", "Martín Lopez")
	runAuth(t, a, []authCase{
		{"token field inside multipart", post("/", body, "Content-Type", ct), nil, ""},
		{"wrong token inside multipart", post("/", []byte(strings.Replace(string(body), "\r\n"+zohoToken+"\r\n", "\r\nguess\r\n", 1)), "Content-Type", ct), ErrUnauthenticated, "bad token"},
		{"token only in a file part", post("/", multipartBody("xYzZY", "file:token", zohoToken), "Content-Type", ct), ErrUnauthenticated, "missing token"},
	}, zohoToken)

	ev := one(t, mustParse(t, a, post("/", body, "Content-Type", ct)))
	wantEvent(t, ev, "", "", "5725767000000412345", "")
	if field(t, ev, "Mobile") != `"+598 99 555 111"` || field(t, ev, "Full_Name") != `"Martín Lopez"` ||
		field(t, ev, "token") != "" || field(t, ev, "attachment") != "" {
		t.Errorf("record %s", ev.Record)
	}

	many := make([]string, 0, 2*(zohoMaxFields+1))
	for i := 0; i <= zohoMaxFields; i++ {
		many = append(many, "f", "v")
	}
	for _, c := range []struct{ name, ct, body string }{
		{"no boundary", "multipart/form-data", string(body)},
		{"other boundary", "multipart/form-data; boundary=other", string(body)},
		{"truncated", ct, string(body[:len(body)-20])},
		{"too many parts", ct, string(multipartBody("xYzZY", many...))},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(post("/?token="+zohoToken, []byte(c.body), "Content-Type", c.ct))
			checkErr(t, err, ErrMalformed)
		})
	}
}

func TestZohoURLParameters(t *testing.T) {
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: zohoToken})
	t.Run("empty body, everything in the URL", func(t *testing.T) {
		r := post("/webhooks/zoho?id=5725767000000412345&Mobile=%2B598+99+555+111&token="+zohoToken+"&wait=5s&dry_run=true", nil)
		ev := one(t, mustParse(t, a, r))
		wantEvent(t, ev, "", "", "5725767000000412345", "")
		if string(ev.Record) != `{"Mobile":"+598 99 555 111","id":"5725767000000412345"}` {
			t.Errorf("record %s", ev.Record)
		}
	})
	t.Run("body wins over the URL", func(t *testing.T) {
		for _, r := range []*Request{
			post("/?Mobile=1&Owner=9", []byte(`{"id":"7","Mobile":"2","token":"`+zohoToken+`"}`), "Content-Type", "application/json"),
			post("/?Mobile=1&Owner=9", []byte("id=7&Mobile=2&token="+zohoToken), "Content-Type", "application/x-www-form-urlencoded"),
		} {
			ev := one(t, mustParse(t, a, r))
			if field(t, ev, "Mobile") != `"2"` || field(t, ev, "Owner") != `"9"` || field(t, ev, "token") != "" {
				t.Errorf("record %s", ev.Record)
			}
		}
	})
	t.Run("nothing at all", func(t *testing.T) {
		_, err := a.Parse(post("/?token="+zohoToken, nil))
		checkErr(t, err, ErrMalformed)
	})
}

func FuzzZoho(f *testing.F) {
	const mp = "multipart/form-data; boundary=xYzZY"
	f.Add(sample(f, "zoho-lead-form.txt"), "application/x-www-form-urlencoded")
	f.Add(sample(f, "zoho-lead.json"), "application/json")
	f.Add(multipartBody("xYzZY", "id", "1", "file:f", "x", "token", zohoToken), mp)
	f.Add([]byte{}, "")
	a := mustNew(f, Config{Name: "zoho", Kind: "zoho", Secret: zohoToken})
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		r := post("/?id=9", body, "Content-Type", ct)
		_ = a.Authenticate(r)
		b, err := a.Parse(r)
		if err != nil {
			return
		}
		ev := one(t, b)
		if !jsonObject(ev.Record) || strings.Contains(field(t, ev, "token"), zohoToken) {
			t.Fatalf("record %s", ev.Record)
		}
	})
}
