package mapping

import "testing"

// A destination as Map wrote it reads back as the number it was, in E.164,
// whatever phone.format and phone.prefix say.
func TestDestinationE164(t *testing.T) {
	cases := []struct {
		name   string
		region string
		phone  PhoneOptions
		raw    string
		want   string
	}{
		{"digits", "UY", PhoneOptions{}, "099 123 456", "+59899123456"},
		{"e164", "", PhoneOptions{Format: FormatE164}, "+34 612 345 678", "+34612345678"},
		{"national", "UY", PhoneOptions{Format: FormatNational}, "+598 99 123 456", "+59899123456"},
		{"national without a region", "", PhoneOptions{Format: FormatNational}, "+598 99 123 456", ""},
		{"prefix", "UY", PhoneOptions{Prefix: "9"}, "099 123 456", "+59899123456"},
		{"prefix and e164", "", PhoneOptions{Prefix: "0", Format: FormatE164}, "+81 3 1234 5678", "+81312345678"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.phone.AllowInvalid = true
			m, err := Compile(Spec{Source: "s", Kind: "generic", Region: c.region, Phone: c.phone,
				Rules: map[string]any{"destination": "d"}})
			if err != nil {
				t.Fatal(err)
			}
			dest, _, err := NormalizePhone(c.raw, c.region, c.phone)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.DestinationE164(dest); got != c.want {
				t.Errorf("DestinationE164(%q) = %q, want %q", dest, got, c.want)
			}
		})
	}
}
