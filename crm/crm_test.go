package crm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dialhook/mapping"
)

func TestNewRefusesMissingOrMalformedCredentials(t *testing.T) {
	cases := []struct {
		cfg  Config
		want []string // substrings of the error; none means success
	}{
		{Config{Name: "g", Kind: "generic"}, nil},
		{Config{Name: "crm", Kind: "hubspot"}, []string{`source "crm": kind hubspot needs secret`}},
		{Config{Name: "crm", Kind: "hubspot", AllowUnauthenticated: true}, nil},
		{Config{Name: "z", Kind: "zoho"}, []string{"kind zoho needs secret"}},
		{Config{Name: "d", Kind: "dynamics"}, []string{"kind dynamics needs secret", "auth_headers", "auth_query"}},
		{Config{Name: "d", Kind: "dynamics", AuthHeaders: map[string]string{"X-Key": "v"}}, nil},
		{Config{Name: "d", Kind: "dynamics", AuthQuery: map[string]string{"k": ""}}, []string{"auth_query entry"}},
		{Config{Name: "c", Kind: "close"}, []string{"kind close needs secret"}},
		{Config{Name: "c", Kind: "close", Secret: "not-hex"}, []string{"secret must be the hex"}},
		{Config{Name: "c", Kind: "close", Secret: "not-hex", AllowUnauthenticated: true}, []string{"secret must be the hex"}},
		// Accepted since issue 9 item 11, like the reference libraries (with a start-up warning).
		{Config{Name: "s", Kind: "standard", Secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, nil},
		{Config{Name: "s", Kind: "standard", Secret: "whsec_!!!"}, []string{"whsec_"}},
		{Config{Name: "sf", Kind: "salesforce"}, []string{"kind salesforce needs org_ids"}},
		{Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{"00D5g000004XyZa", "short", "00D5g000004XyZa-AK"}},
			[]string{`"short"`, `"00D5g000004XyZa-AK"`}},
		{Config{Name: "p", Kind: "pipedrive"}, []string{"kind pipedrive needs basic_auth"}},
		{Config{Name: "p", Kind: "pipedrive", BasicAuth: &BasicAuth{User: "u"}}, []string{"needs both user and password"}},
		{Config{Name: "x", Kind: "marketo"}, []string{`unknown kind "marketo"`, strings.Join(Kinds, ", ")}},
		{Config{Name: "h", Kind: "hubspot", Secret: "s", PublicBaseURL: "abc.ngrok-free.app"}, []string{"public_base_url"}},
		{Config{Kind: "hubspot", Secret: "s", ClockSkew: -1}, []string{"name is required", "clock_skew"}},
	}
	for _, c := range cases {
		t.Run(c.cfg.Name+"/"+c.cfg.Kind, func(t *testing.T) {
			a, err := New(c.cfg)
			if len(c.want) == 0 {
				if err != nil || a == nil || a.Kind() != c.cfg.Kind {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted the config")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewReportsAllProblems(t *testing.T) {
	_, err := New(Config{Name: "", Kind: "close", Secret: "zz", ClockSkew: -5})
	if err == nil {
		t.Fatal("want an error")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("got %d problems, want 3:\n%v", n, err)
	}
}

func TestErrorsMatchSentinels(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{authErr("bad signature"), ErrUnauthenticated},
		{malformed("x"), ErrMalformed},
		{unprocessable("x"), ErrUnprocessable},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%v does not match %v", c.err, c.want)
		}
	}
}

func TestPresetsCompile(t *testing.T) {
	for _, k := range Kinds {
		a := mustNew(t, Config{Name: k, Kind: k, AllowUnauthenticated: true})
		if _, err := mapping.Compile(mapping.Spec{Source: k, Kind: k, Preset: a.Preset()}); err != nil {
			t.Errorf("%s preset: %v", k, err)
		}
		a.Preset()["destination"] = "mutated"
		if a.Preset()["destination"] == "mutated" {
			t.Errorf("%s: Preset shares state between calls", k)
		}
	}
}

func TestDialects(t *testing.T) {
	for _, k := range Kinds {
		d := mustNew(t, Config{Name: k, Kind: k, AllowUnauthenticated: true}).Dialect()
		wantStatus := 200
		if k == "generic" || k == "standard" {
			wantStatus = 422
		}
		if d.RejectStatus != wantStatus || d.SOAP != (k == "salesforce") {
			t.Errorf("%s: dialect %+v", k, d)
		}
	}
}

func TestSOAPAck(t *testing.T) {
	// Salesforce's acknowledgement: an expected answer, not a sample body,
	// so it stays in crm/testdata.
	want, err := os.ReadFile(filepath.Join("testdata", "salesforce-ack.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := SOAPAck(); !bytes.Equal(got, want) {
		t.Errorf("SOAPAck differs from salesforce-ack.xml:\n%s", got)
	}
}

func TestSOAPFault(t *testing.T) {
	b := SOAPFault("soapenv:Client", `bad <org> & "id"`)
	var env struct {
		Body struct {
			Fault struct {
				Code   string `xml:"faultcode"`
				String string `xml:"faultstring"`
			} `xml:"Fault"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(b, &env); err != nil {
		t.Fatalf("fault is not XML: %v\n%s", err, b)
	}
	if env.Body.Fault.Code != "soapenv:Client" || env.Body.Fault.String != `bad <org> & "id"` {
		t.Errorf("fault = %+v", env.Body.Fault)
	}
	if !bytes.Contains(b, []byte(`xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"`)) {
		t.Error("fault lacks the SOAP 1.1 envelope namespace")
	}
}

// Every kind listed is built by a constructor, and every constructor's
// kind is listed.
func TestKindsHaveConstructors(t *testing.T) {
	if len(constructors) != len(Kinds) {
		t.Fatalf("%d constructors for %d kinds", len(constructors), len(Kinds))
	}
	for _, k := range Kinds {
		if constructors[k] == nil {
			t.Errorf("kind %q has no constructor", k)
		}
	}
}
