package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// utc reads "2006-01-02 15:04" as UTC: the tests' injected clock.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestZonesOf(t *testing.T) {
	cases := []struct {
		number string
		want   []string
	}{
		{"+59899123456", []string{"America/Montevideo"}},
		{"59899123456", []string{"America/Montevideo"}}, // the '+' is optional
		{"+34612345678", []string{"Europe/Madrid"}},
		{"+81312345678", []string{"Asia/Tokyo"}},
		{"+5511987654321", []string{"America/Sao_Paulo"}},
		{"+919876543210", []string{"Asia/Calcutta"}},
		{"+12125550123", []string{"America/New_York"}},
		{"+16055550123", []string{"America/Denver", "America/North_Dakota/Center"}}, // South Dakota
		{"+61893456789", []string{"Australia/Adelaide", "Australia/Perth"}},
		{"+88234", nil}, // a range the library places nowhere
		{"", nil},
		{"+598 99", nil},
		{"+5989912345678901234", nil},
	}
	for _, c := range cases {
		if got := ZonesOf(c.number); !slices.Equal(got, c.want) {
			t.Errorf("ZonesOf(%q) = %v, want %v", c.number, got, c.want)
		}
	}
	if n := len(ZonesOf("+18005550123")); n < 20 {
		t.Errorf("a toll-free NANP number has %d zones; the docs say it has every NANP zone", n)
	}
}

// The window of "08:00–21:00 in the called party's local time", read in
// each number's zones; now is the injected clock, next the due time
// (UTC), equal to now when open.
func TestDestinationWindow(t *testing.T) {
	cases := []struct {
		name, fallback, number, now, next, zones string
	}{
		{"UY before 08:00", "", "+59899123456", "2026-11-27 10:30", "2026-11-27 11:00", "America/Montevideo (from +59899123456)"},
		{"ES open", "", "+34612345678", "2026-11-27 10:30", "2026-11-27 10:30", "Europe/Madrid (from +34612345678)"},
		{"JP after 21:00", "", "81312345678", "2026-11-27 12:30", "2026-11-27 23:00", "Asia/Tokyo (from +81312345678)"},
		{"IN half-hour zone", "", "+919876543210", "2026-11-27 02:00", "2026-11-27 02:30", "Asia/Calcutta (from +919876543210)"},
		{"BR", "", "+5511987654321", "2026-11-27 10:30", "2026-11-27 11:00", ""},
		{"US one zone", "", "+12125550123", "2026-11-27 12:30", "2026-11-27 13:00", ""},
		// Multi-zone: open only when open in every zone.
		{"AU both open", "", "+61893456789", "2026-11-27 00:00", "2026-11-27 00:00",
			"Australia/Adelaide, Australia/Perth (from +61893456789; open only when open in every one)"},
		{"AU Adelaide open, Perth not yet", "", "+61893456789", "2026-11-26 23:00", "2026-11-27 00:00", ""},
		{"AU Perth open, Adelaide closed", "", "+61893456789", "2026-11-27 10:45", "2026-11-28 00:00", ""},
		{"US Central open, Mountain not yet", "", "+16055550123", "2026-11-27 14:30", "2026-11-27 15:00", ""},
		{"US Central closed, Mountain open", "", "+16055550123", "2026-11-28 03:30", "2026-11-28 15:00", ""},
		// DST edges.
		{"US spring forward: 08:00 EDT", "", "+12125550123", "2026-03-08 06:30", "2026-03-08 12:00", ""},
		{"US day before: 08:00 EST", "", "+12125550123", "2026-03-07 12:30", "2026-03-07 13:00", ""},
		{"ES last summer morning: 08:00 CEST", "", "+34612345678", "2026-10-24 05:30", "2026-10-24 06:00", ""},
		{"ES autumn back: 08:00 CET", "", "+34612345678", "2026-10-24 20:00", "2026-10-25 07:00", ""},
		// Numbers the library places nowhere: the fallback zone.
		{"unknown, UTC", "", "+88234", "2026-11-27 07:00", "2026-11-27 08:00", "UTC (the fallback zone: the phone library knows no time zone for +88234)"},
		{"unknown, fallback", "America/Montevideo", "+88234", "2026-11-27 10:30", "2026-11-27 11:00", ""},
		{"no number yet", "America/Montevideo", "", "2026-11-27 10:30", "2026-11-27 11:00", "America/Montevideo (the fallback zone: no destination number yet)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, err := Compile(Spec{Timezone: Destination, Fallback: c.fallback, Start: "08:00", End: "21:00"})
			if err != nil {
				t.Fatal(err)
			}
			w := base.For(c.number)
			now, next := utc(t, c.now), utc(t, c.next)
			if got := w.Next(now); !got.Equal(next) {
				t.Errorf("Next(%s) = %s, want %s", c.now, got.UTC().Format(time.DateTime), c.next)
			}
			if open := w.Open(now); open != now.Equal(next) {
				t.Errorf("Open(%s) = %v", c.now, open)
			}
			if c.zones != "" && w.Zones() != c.zones {
				t.Errorf("Zones() = %q, want %q", w.Zones(), c.zones)
			}
		})
	}
}

// A window whose start a spring-forward gap skips opens when the clocks
// jump, not an hour early.
func TestStartInDaylightSavingGap(t *testing.T) {
	w, err := Parse("America/New_York", nil, "02:30", "05:00", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := utc(t, "2026-03-08 05:00") // 00:00 EST
	if got, want := w.Next(now), utc(t, "2026-03-08 07:00"); !got.Equal(want) {
		t.Errorf("Next = %s, want %s (03:00 EDT)", got.UTC(), want)
	}
}

// Zones that never share an open hour (Guam and Honolulu are 20 hours
// apart: a two-hour Monday window never overlaps): Next says never.
func TestNeverOpenInEveryZone(t *testing.T) {
	w, err := Parse("Pacific/Guam", []string{"mon"}, "09:00", "11:00", 0)
	if err != nil {
		t.Fatal(err)
	}
	hnl, _ := time.LoadLocation("Pacific/Honolulu")
	w.locs = append(w.locs, hnl)
	if got := w.Next(utc(t, "2026-11-27 00:00")); !got.IsZero() {
		t.Errorf("Next = %s, want never", got)
	}
}

// A window in a configured zone ignores the number.
func TestForConfiguredZone(t *testing.T) {
	w, err := Parse("America/Montevideo", nil, "09:00", "18:00", 0)
	if err != nil {
		t.Fatal(err)
	}
	if w.ByDestination() || w.For("+81312345678") != w || w.Zones() != "America/Montevideo" {
		t.Errorf("configured window changed by For: %q", w.For("+81312345678").Zones())
	}
	var none *Window
	if none.ByDestination() || none.For("+59899123456") != nil || none.Zones() != "" {
		t.Error("nil window is not always open")
	}
}

func TestCompileFallbackErrors(t *testing.T) {
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Timezone: "America/Montevideo", Fallback: "UTC"}, "fallback_timezone: is read only with timezone: destination"},
		{Spec{Timezone: Destination, Fallback: "Mars/Olympus"}, `fallback_timezone: "Mars/Olympus" is not an IANA time zone`},
		{Spec{Timezone: Destination, Fallback: Destination}, `fallback_timezone: "destination" is not an IANA time zone`},
		{Spec{Timezone: "Destination"}, "or destination (the called number's own zones)"},
	}
	for _, c := range cases {
		_, err := Compile(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%+v) = %v, want %q", c.spec, err, c.want)
		}
	}
}

// The cost a window by destination adds to each webhook: the number's
// zones, then Next.
func BenchmarkForNext(b *testing.B) {
	w, err := Compile(Spec{Timezone: Destination, Start: "08:00", End: "21:00"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	for _, n := range []string{"+59899123456", "+61893456789"} {
		b.Run(n, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w.For(n).Next(now)
			}
		})
	}
}
