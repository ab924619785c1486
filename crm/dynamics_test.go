package crm

import (
	"strings"
	"testing"

	"dialhook/internal/samples"
)

func TestDynamicsAuthenticate(t *testing.T) {
	body := samples.Body(samples.DynamicsLeadCreate)
	key := mustNew(t, Config{Name: "d", Kind: "dynamics", Secret: samples.DynamicsKey})
	all := mustNew(t, Config{Name: "d", Kind: "dynamics", Secret: samples.DynamicsKey,
		AuthHeaders: map[string]string{"X-Api-Key": samples.DynamicsHeaderKey}, AuthQuery: map[string]string{"tenant": samples.DynamicsQueryKey}})
	code := "/webhooks/d?" + samples.DynamicsCode(samples.DynamicsKey)
	runAuth(t, key, []authCase{
		{"webhook key", post(code, body), nil, ""},
		{"wrong key", post("/webhooks/d?code=wh-key-9013", body), ErrUnauthenticated, "bad credentials"},
		{"no key", post("/webhooks/d", body), ErrUnauthenticated, "missing credentials"},
	}, samples.DynamicsKey)
	runAuth(t, all, []authCase{
		{"all three", post(code+"&tenant="+samples.DynamicsQueryKey, body, "X-Api-Key", samples.DynamicsHeaderKey), nil, ""},
		{"header missing", post(code+"&tenant="+samples.DynamicsQueryKey, body), ErrUnauthenticated, "bad credentials"},
		{"query wrong", post(code+"&tenant=x", body, "X-Api-Key", samples.DynamicsHeaderKey), ErrUnauthenticated, "bad credentials"},
		{"nothing", post("/webhooks/d", body), ErrUnauthenticated, "missing credentials"},
	}, samples.DynamicsKey, samples.DynamicsHeaderKey, samples.DynamicsQueryKey)
}

func TestDynamicsParse(t *testing.T) {
	a := mustNew(t, Config{Name: "d", Kind: "dynamics", Secret: "k"})
	body := samples.Body(samples.DynamicsLeadCreate)

	t.Run("lead create", func(t *testing.T) {
		ev := one(t, mustParse(t, a, post("/?code=k", body, "x-request-id", "5a1f0c7e-0000-4000-8000-000000000001")))
		wantEvent(t, ev, "5a1f0c7e-0000-4000-8000-000000000001", "lead", "3f1d9b22-5c6a-ef11-8409-000d3a5c1b2e", "Create")
		for k, want := range map[string]string{
			"telephone1":  `"+1 (415) 555-0132"`,
			"mobilephone": `null`,
			"ownerid":     `{"Id":"7e3c2a10-9f1b-ef11-8409-000d3a5c1b2e","LogicalName":"systemuser","Name":"Ana Gomez"}`,
			"createdon":   `"2024-11-25T13:06:40Z"`,
		} {
			if got := field(t, ev, k); got != want {
				t.Errorf("record[%s] = %s, want %s", k, got, want)
			}
		}
	})

	t.Run("OperationId without x-request-id, redelivery", func(t *testing.T) {
		e1 := one(t, mustParse(t, a, post("/?code=k", body)))
		e2 := one(t, mustParse(t, a, post("/?code=k", body)))
		if e1.DedupKey != "c1d2e3f4-a5b6-ef11-8409-000d3a5c1b2e" || e1.DedupKey != e2.DedupKey {
			t.Errorf("dedup %q", e1.DedupKey)
		}
	})

	t.Run("update: types and post-image", func(t *testing.T) {
		upd := `{"MessageName":"Update","PrimaryEntityName":"lead","PrimaryEntityId":"L1","OperationId":"op1",
		"InputParameters":[{"key":"Target","value":{"Attributes":[
			{"key":"leadqualitycode","value":{"__type":"OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts","Value":1}},
			{"key":"revenue","value":{"__type":"Money:http://schemas.microsoft.com/xrm/2011/Contracts","Value":1500.5}},
			{"key":"modifiedon","value":"\/Date(1732540000000+0000)\/"},
			{"key":"telephone1","value":"22"}]}}],
		"PostEntityImages":[{"key":"post","value":{"Attributes":[{"key":"telephone1","value":"11"},{"key":"mobilephone","value":"099"}]}}]}`
		ev := one(t, mustParse(t, a, post("/?code=k", []byte(upd))))
		wantEvent(t, ev, "op1", "lead", "L1", "Update")
		for k, want := range map[string]string{
			"leadqualitycode": `1`, "revenue": `1500.5`, "modifiedon": `"2024-11-25T13:06:40Z"`,
			"telephone1": `"22"`, "mobilephone": `"099"`,
		} {
			if got := field(t, ev, k); got != want {
				t.Errorf("record[%s] = %s, want %s", k, got, want)
			}
		}
	})

	t.Run("delete ignored", func(t *testing.T) {
		b := mustParse(t, a, post("/?code=k", []byte(`{"MessageName":"Delete","InputParameters":[{"key":"Target","value":{"Id":"x","LogicalName":"lead"}}]}`)))
		if b.Ignored == "" || len(b.Events) != 0 {
			t.Errorf("batch %+v", b)
		}
	})

	t.Run("size exceeded", func(t *testing.T) {
		stripped := `{"MessageName":"Create","PrimaryEntityName":"lead","PrimaryEntityId":"x","InputParameters":[]}`
		_, err := a.Parse(post("/?code=k", []byte(stripped), "x-ms-dynamics-msg-size-exceeded", "true"))
		checkErr(t, err, ErrUnprocessable)
		if err == nil || !strings.Contains(err.Error(), "256 KB") {
			t.Errorf("error %v does not explain the size limit", err)
		}
		_, err = a.Parse(post("/?code=k", []byte(stripped)))
		checkErr(t, err, ErrUnprocessable)
	})

	for _, c := range []struct{ name, body string }{
		{"not JSON", "<xml/>"},
		{"array", "[]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(post("/?code=k", []byte(c.body)))
			checkErr(t, err, ErrMalformed)
		})
	}
}

func TestDynamicsDate(t *testing.T) {
	for in, want := range map[string]string{
		"/Date(1732540000000)/":        "2024-11-25T13:06:40Z",
		"/Date(1732540000123+0300)/":   "2024-11-25T13:06:40.123Z",
		"/Date(-1000)/":                "1969-12-31T23:59:59Z",
		"/Date(x)/":                    "",
		"Date(1732540000000)":          "",
		"/Date(17325400000001234567)/": "",
	} {
		got, ok := dynamicsDate(in)
		if got != want || ok != (want != "") {
			t.Errorf("dynamicsDate(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func FuzzDynamics(f *testing.F) {
	f.Add(samples.Body(samples.DynamicsLeadCreate))
	f.Add([]byte(`{"InputParameters":[{"key":"Target","value":{"Attributes":[{"key":"a","value":{"__type":"Money:x","Value":1}}]}}]}`))
	a := mustNew(f, Config{Name: "d", Kind: "dynamics", Secret: "k"})
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := a.Parse(post("/?code=k", body))
		if err != nil {
			return
		}
		if b.Ignored == "" && len(b.Events) != 1 {
			t.Fatalf("batch %+v", b)
		}
	})
}

func TestDynamicsDedupKey(t *testing.T) {
	a := mustNew(t, Config{Name: "d", Kind: "dynamics", Secret: "k"})
	const lead = "3f1d9b22-5c6a-ef11-8409-000d3a5c1b2e"
	const req = "aa000000-0000-4000-8000-000000000001"
	const corr = "8a9b2c4d-1e2f-4a5b-9c8d-7e6f5a4b3c2d"
	body := func(op, requestID, correlationID, entityID string) []byte {
		return []byte(`{"MessageName":"Create","PrimaryEntityName":"lead","PrimaryEntityId":"` + entityID + `","OperationId":"` + op +
			`","RequestId":` + requestID + `,"CorrelationId":"` + correlationID + `","Depth":1,` +
			`"InputParameters":[{"key":"Target","value":{"Id":"` + entityID + `","Attributes":[{"key":"mobilephone","value":"099"}]}}]}`)
	}
	async := body("c1d2e3f4-a5b6-ef11-8409-000d3a5c1b2e", "null", corr, lead)
	sync := body(zeroGUID, `"`+req+`"`, corr, lead)
	for _, c := range []struct {
		name, header string
		body         []byte
		want         string // "hash": the event's BodyHash
	}{
		{"x-request-id first", "5a1f0c7e-0000-4000-8000-000000000001", async, "5a1f0c7e-0000-4000-8000-000000000001"},
		{"zero x-request-id skipped", zeroGUID, async, "c1d2e3f4-a5b6-ef11-8409-000d3a5c1b2e"},
		{"OperationId of an asynchronous step", "", async, "c1d2e3f4-a5b6-ef11-8409-000d3a5c1b2e"},
		{"synchronous step: record, message and correlation ids", "", sync,
			lead + ":Create:RequestId=" + req + ":CorrelationId=" + corr + ":Depth=1"},
		{"braced zero OperationId", "", body("{00000000-0000-0000-0000-000000000000}", `"`+req+`"`, corr, lead),
			lead + ":Create:RequestId=" + req + ":CorrelationId=" + corr + ":Depth=1"},
		{"OperationCorrelationId when sent", "", []byte(strings.Replace(string(sync), `"Depth"`, `"OperationCorrelationId":"bb1","Depth"`, 1)),
			lead + ":Create:RequestId=" + req + ":OperationCorrelationId=bb1:CorrelationId=" + corr + ":Depth=1"},
		{"no correlation ids: request hash", "", body(zeroGUID, "null", zeroGUID, lead), "hash"},
		{"no record id: request hash", "", body(zeroGUID, `"`+req+`"`, corr, zeroGUID), "hash"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := one(t, mustParse(t, a, post("/?code=k", c.body, "x-request-id", c.header)))
			want := c.want
			if want == "hash" {
				want = ev.BodyHash
			}
			if ev.DedupKey != want {
				t.Errorf("dedup key %q, want %q", ev.DedupKey, want)
			}
			if ev.RecordID == zeroGUID {
				t.Error("a zero GUID became the record id")
			}
		})
	}
}

func TestUsableID(t *testing.T) {
	for id, want := range map[string]bool{
		"":     false,
		" ":    false,
		"null": false, "NULL": false, "undefined": false, "none": false,
		zeroGUID:                                 false,
		"{00000000-0000-0000-0000-000000000000}": false,
		"00000000000000000000000000000000":       false,
		"0":                                      false,
		"-":                                      false,
		"c1d2e3f4-a5b6-ef11-8409-000d3a5c1b2e":   true,
		"00000000-0000-0000-0000-000000000001":   true,
		"ev_1":                                   true,
	} {
		if got := usableID(id); got != want {
			t.Errorf("usableID(%q) = %v, want %v", id, got, want)
		}
	}
}
