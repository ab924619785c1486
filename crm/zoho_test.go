package crm

import (
	"strings"
	"testing"

	"dialhook/internal/samples"
)

func TestZohoAuthenticate(t *testing.T) {
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: samples.ZohoToken})
	form := samples.Body(samples.ZohoLeadForm)
	noToken := samples.ZohoWithoutToken(samples.ZohoLeadForm)
	js := samples.Body(samples.ZohoLeadJSON)
	const ct = "Content-Type"
	const formCT = "application/x-www-form-urlencoded"
	runAuth(t, a, []authCase{
		{"form field", post("/", form, ct, formCT), nil, ""},
		{"header", post("/", noToken, ct, formCT, "X-Dialhook-Token", samples.ZohoToken), nil, ""},
		{"query", post("/?token="+samples.ZohoToken, noToken, ct, formCT), nil, ""},
		{"json field", post("/", js, ct, "application/json"), nil, ""},
		{"json without content type", post("/", js), nil, ""},
		{"wrong header", post("/", form, ct, formCT, "X-Dialhook-Token", "guess"), ErrUnauthenticated, "bad token"},
		{"wrong query", post("/?token=guess", noToken, ct, formCT), ErrUnauthenticated, "bad token"},
		{"missing", post("/", noToken, ct, formCT), ErrUnauthenticated, "missing token"},
		{"form body sent as text", post("/", form, ct, "text/plain"), ErrUnauthenticated, "missing token"},
	}, samples.ZohoToken)
}

func TestZohoParse(t *testing.T) {
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: samples.ZohoToken})
	t.Run("form", func(t *testing.T) {
		ev := one(t, mustParse(t, a, post("/", samples.Body(samples.ZohoLeadForm), "Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")))
		wantEvent(t, ev, "", "", "5725767000000412345", "")
		if field(t, ev, "token") != "" || field(t, ev, "Full_Name") != `"Martín Lopez"` || field(t, ev, "Mobile") != `"+598 99 555 111"` {
			t.Errorf("record %s", ev.Record)
		}
	})
	t.Run("json", func(t *testing.T) {
		ev := one(t, mustParse(t, a, post("/", samples.Body(samples.ZohoLeadJSON), "Content-Type", "application/json")))
		wantEvent(t, ev, "", "", "5725767000000412345", "")
		if strings.Contains(string(ev.Record), samples.ZohoToken) || field(t, ev, "Owner") != `{"id":"5725767000000211001","name":"Ana Gomez"}` {
			t.Errorf("record %s", ev.Record)
		}
	})
	t.Run("redelivery with another token keeps the hash", func(t *testing.T) {
		body := samples.Body(samples.ZohoLeadJSON)
		e1 := one(t, mustParse(t, a, post("/", body)))
		e2, err := a.Parse(post("/", []byte(strings.Replace(string(body), samples.ZohoToken, "rotated", 1))))
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
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: samples.ZohoToken})
	const ct = "multipart/form-data; boundary=xYzZY"
	body := multipartBody("xYzZY", "id", "5725767000000412345", "Mobile", "+598 99 555 111",
		"file:attachment", "token,"+samples.ZohoToken+"\n", "token", samples.ZohoToken, "Full_Name", "Martín Lopez")
	runAuth(t, a, []authCase{
		{"token field inside multipart", post("/", body, "Content-Type", ct), nil, ""},
		{"wrong token inside multipart", post("/", []byte(strings.Replace(string(body), "\r\n"+samples.ZohoToken+"\r\n", "\r\nguess\r\n", 1)), "Content-Type", ct), ErrUnauthenticated, "bad token"},
		{"token only in a file part", post("/", multipartBody("xYzZY", "file:token", samples.ZohoToken), "Content-Type", ct), ErrUnauthenticated, "missing token"},
	}, samples.ZohoToken)

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
			_, err := a.Parse(post("/?token="+samples.ZohoToken, []byte(c.body), "Content-Type", c.ct))
			checkErr(t, err, ErrMalformed)
		})
	}
}

func TestZohoURLParameters(t *testing.T) {
	a := mustNew(t, Config{Name: "zoho", Kind: "zoho", Secret: samples.ZohoToken})
	t.Run("empty body, everything in the URL", func(t *testing.T) {
		r := post("/webhooks/zoho?id=5725767000000412345&Mobile=%2B598+99+555+111&token="+samples.ZohoToken+"&wait=5s&dry_run=true", nil)
		ev := one(t, mustParse(t, a, r))
		wantEvent(t, ev, "", "", "5725767000000412345", "")
		if string(ev.Record) != `{"Mobile":"+598 99 555 111","id":"5725767000000412345"}` {
			t.Errorf("record %s", ev.Record)
		}
	})
	t.Run("body wins over the URL", func(t *testing.T) {
		for _, r := range []*Request{
			post("/?Mobile=1&Owner=9", []byte(`{"id":"7","Mobile":"2","token":"`+samples.ZohoToken+`"}`), "Content-Type", "application/json"),
			post("/?Mobile=1&Owner=9", []byte("id=7&Mobile=2&token="+samples.ZohoToken), "Content-Type", "application/x-www-form-urlencoded"),
		} {
			ev := one(t, mustParse(t, a, r))
			if field(t, ev, "Mobile") != `"2"` || field(t, ev, "Owner") != `"9"` || field(t, ev, "token") != "" {
				t.Errorf("record %s", ev.Record)
			}
		}
	})
	t.Run("nothing at all", func(t *testing.T) {
		_, err := a.Parse(post("/?token="+samples.ZohoToken, nil))
		checkErr(t, err, ErrMalformed)
	})
}

func FuzzZoho(f *testing.F) {
	const mp = "multipart/form-data; boundary=xYzZY"
	f.Add(samples.Body(samples.ZohoLeadForm), "application/x-www-form-urlencoded")
	f.Add(samples.Body(samples.ZohoLeadJSON), "application/json")
	f.Add(multipartBody("xYzZY", "id", "1", "file:f", "x", "token", samples.ZohoToken), mp)
	f.Add([]byte{}, "")
	a := mustNew(f, Config{Name: "zoho", Kind: "zoho", Secret: samples.ZohoToken})
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		r := post("/?id=9", body, "Content-Type", ct)
		_ = a.Authenticate(r)
		b, err := a.Parse(r)
		if err != nil {
			return
		}
		ev := one(t, b)
		if !jsonObject(ev.Record) || strings.Contains(field(t, ev, "token"), samples.ZohoToken) {
			t.Fatalf("record %s", ev.Record)
		}
	})
}
