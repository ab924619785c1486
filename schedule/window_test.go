package schedule

import (
	"testing"
	"time"
)

func mustParse(t *testing.T, tz string, days []string, start, end string) *Window {
	t.Helper()
	w, err := Parse(tz, days, start, end, 0)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestOpenAndNext(t *testing.T) {
	mvd, _ := time.LoadLocation("America/Montevideo")
	w := mustParse(t, "America/Montevideo", []string{"mon-fri"}, "09:00", "18:00")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, mvd)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		now, next string
	}{
		{"2026-11-25 10:00", "2026-11-25 10:00"}, // Wednesday, open
		{"2026-11-25 03:00", "2026-11-25 09:00"}, // before opening
		{"2026-11-25 18:00", "2026-11-26 09:00"}, // end is exclusive
		{"2026-11-27 19:30", "2026-11-30 09:00"}, // Friday evening → Monday
		{"2026-11-28 12:00", "2026-11-30 09:00"}, // Saturday
	}
	for _, c := range cases {
		if got := w.Next(at(c.now)); !got.Equal(at(c.next)) {
			t.Errorf("Next(%s) = %s, want %s", c.now, got.In(mvd).Format("2006-01-02 15:04 Mon"), c.next)
		}
	}
	var always *Window
	now := time.Now()
	if !always.Open(now) || !always.Next(now).Equal(now) {
		t.Error("nil window is not always open")
	}
}

func TestWindowAcrossMidnight(t *testing.T) {
	w := mustParse(t, "UTC", []string{"fri"}, "22:00", "02:00")
	fri := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	sat := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	if !w.Open(fri) || !w.Open(sat) || w.Open(sat.Add(2*time.Hour)) {
		t.Fatal("overnight window misread")
	}
}

func TestParseErrors(t *testing.T) {
	for name, c := range map[string]struct {
		tz         string
		days       []string
		start, end string
		maxDelay   time.Duration
	}{
		"timezone":  {tz: "Nowhere/City"},
		"day":       {days: []string{"funday"}},
		"start":     {start: "9am"},
		"end":       {end: "25:61"},
		"same":      {start: "09:00", end: "09:00"},
		"max delay": {maxDelay: -time.Second},
	} {
		if _, err := Parse(c.tz, c.days, c.start, c.end, c.maxDelay); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
