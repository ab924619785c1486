package access

import (
	"net/http/httptest"
	"testing"
)

func TestLoopback(t *testing.T) {
	cases := []struct {
		name   string
		remote string
		header [2]string
		want   bool
	}{
		{"ipv4 loopback", "127.0.0.1:5000", [2]string{}, true},
		{"ipv6 loopback", "[::1]:5000", [2]string{}, true},
		{"no port", "127.0.0.1", [2]string{}, true},
		{"remote", "192.0.2.1:5000", [2]string{}, false},
		{"garbage", "nowhere", [2]string{}, false},
		{"X-Forwarded-For", "127.0.0.1:5000", [2]string{"X-Forwarded-For", "203.0.113.9"}, false},
		{"Forwarded", "127.0.0.1:5000", [2]string{"Forwarded", "for=203.0.113.9"}, false},
		{"X-Real-IP", "127.0.0.1:5000", [2]string{"X-Real-IP", "203.0.113.9"}, false},
		{"Via", "127.0.0.1:5000", [2]string{"Via", "1.1 proxy"}, false},
		{"ngrok", "127.0.0.1:5000", [2]string{"Ngrok-Skip-Browser-Warning", "1"}, false},
		{"x-ngrok", "127.0.0.1:5000", [2]string{"X-Ngrok-Agent", "1"}, false},
		{"empty forwarding header", "127.0.0.1:5000", [2]string{"X-Forwarded-Proto", ""}, false},
		{"harmless header", "127.0.0.1:5000", [2]string{"Accept", "text/html"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			if c.header[0] != "" {
				r.Header.Set(c.header[0], c.header[1])
			}
			if got := Loopback(r); got != c.want {
				t.Errorf("Loopback = %v, want %v", got, c.want)
			}
		})
	}
}

func TestBearer(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"BEARER abc", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, ok := Bearer(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Bearer(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
