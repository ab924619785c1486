package ucontact_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/uuid"

	"dialhook/ucontact"
)

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		body string
		want error // nil: the GUID below
	}{
		{testGUID, nil},
		{"\n\t " + testGUID + " \r\n", nil},
		{`"` + testGUID + `"`, nil},
		{"8CF8570E-60E7-44ED-B799-3BAAB211B04D", nil},
		{"0", ucontact.ErrRejected},
		{" 0\n", ucontact.ErrRejected},
		{"00", ucontact.ErrUnexpectedAnswer},
		{"", ucontact.ErrUnexpectedAnswer},
		{"OK", ucontact.ErrUnexpectedAnswer},
		{testGUID + "x", ucontact.ErrUnexpectedAnswer},
		{uuid.Nil.String(), ucontact.ErrUnexpectedAnswer},
	}
	for _, tt := range tests {
		id, err := ucontact.ParseAnswer([]byte(tt.body))
		if tt.want == nil {
			if err != nil || id.String() != testGUID {
				t.Errorf("ParseAnswer(%q) = %v, %v; want %s", tt.body, id, err, testGUID)
			}
			continue
		}
		if !errors.Is(err, tt.want) || id != uuid.Nil {
			t.Errorf("ParseAnswer(%q) = %v, %v; want %v", tt.body, id, err, tt.want)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{testGUID, "0", " 0 \n", "", `"` + testGUID + `"`, "{" + testGUID + "}",
		"urn:uuid:" + testGUID, "<html>error</html>", string(bytes.Repeat([]byte("é"), 300))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := ucontact.ParseAnswer(body)
		if err == nil {
			if id == uuid.Nil {
				t.Fatalf("ParseAnswer(%q): nil GUID without error", body)
			}
			return
		}
		if id != uuid.Nil {
			t.Fatalf("ParseAnswer(%q): id %v with error %v", body, id, err)
		}
		var ue *ucontact.UnexpectedAnswerError
		switch {
		case errors.Is(err, ucontact.ErrRejected):
		case errors.As(err, &ue):
			if len(ue.Body) > 200 {
				t.Fatalf("ParseAnswer(%q): Body of %d bytes", body, len(ue.Body))
			}
			if !errors.Is(err, ucontact.ErrUnexpectedAnswer) || ucontact.Retryable(err) {
				t.Fatalf("ParseAnswer(%q): %v misclassified", body, err)
			}
		default:
			t.Fatalf("ParseAnswer(%q): untyped error %v", body, err)
		}
	})
}

func BenchmarkParams_Form(b *testing.B) {
	p := testParams()
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Form().Encode()
	}
}

func BenchmarkParseAnswer(b *testing.B) {
	body := []byte(testGUID + "\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ucontact.ParseAnswer(body); err != nil {
			b.Fatal(err)
		}
	}
}
