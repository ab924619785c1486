package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"listen", "workers", "secret", "clock_skew", "timeout", "routes", "retry_max", "retention"}
	for typo, want := range map[string]string{
		"lisen": "listen", "LISTEN": "listen", "wrkers": "workers", "secert": "secret", "clock_skw": "clock_skew",
		"timout": "timeout", "route": "routes", "retry_mx": "retry_max", "retension": "retention",
		"bogus": "", "x": "", "completely_else": "",
	} {
		if got := Closest(typo, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", typo, got, want)
		}
	}
}
