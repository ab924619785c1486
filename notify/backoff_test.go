package notify_test

import (
	"testing"
	"time"

	"dialhook/notify"
)

func fixed(v float64) func() float64 { return func() float64 { return v } }

// The wait doubles from 5 s up to 1 h; equal jitter puts it between half
// and all of that.
func TestNextRetrySchedule(t *testing.T) {
	first := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	longest := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 640 * time.Second, 1280 * time.Second, 2560 * time.Second, time.Hour, time.Hour}
	for i, d := range longest {
		attempt := i + 1
		now := first.Add(time.Duration(attempt) * time.Minute)
		for _, tc := range []struct {
			rnd  float64
			want time.Duration
		}{{0, d / 2}, {0.5, d/2 + d/4}, {1, d}, {-3, d / 2}, {7, d}} {
			next, ok := notify.NextRetry(attempt, first, now, notify.DefaultRetryFor, fixed(tc.rnd))
			if !ok || next.Sub(now) != tc.want {
				t.Errorf("attempt %d, rnd %v: wait %s (%v), want %s", attempt, tc.rnd, next.Sub(now), ok, tc.want)
			}
		}
	}
	for _, attempt := range []int{0, -1} {
		if next, _ := notify.NextRetry(attempt, first, first, time.Hour, fixed(1)); next.Sub(first) != notify.FirstDelay {
			t.Errorf("attempt %d: wait %s, want the first delay", attempt, next.Sub(first))
		}
	}
	if next, _ := notify.NextRetry(1<<40, first, first, 48*time.Hour, fixed(1)); next.Sub(first) != notify.MaxDelay {
		t.Errorf("a huge attempt number: wait %s", next.Sub(first))
	}
	for range 100 {
		next, ok := notify.NextRetry(3, first, first, time.Hour, nil)
		if w := next.Sub(first); !ok || w < 10*time.Second || w > 20*time.Second {
			t.Fatalf("math/rand jitter: wait %s", w)
		}
	}
}

// Retries stop once retryFor has passed since the first attempt; the last
// try is made at the deadline rather than skipped.
func TestNextRetryGivesUp(t *testing.T) {
	first := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		attempt  int
		now      time.Time
		retryFor time.Duration
		want     time.Time
		ok       bool
	}{
		{"well inside", 1, first, time.Hour, first.Add(5 * time.Second), true},
		{"clamped to the deadline", 12, first.Add(23 * time.Hour), 24 * time.Hour, first.Add(24 * time.Hour), true},
		{"just before", 12, first.Add(24*time.Hour - time.Second), 24 * time.Hour, first.Add(24 * time.Hour), true},
		{"at the deadline", 12, first.Add(24 * time.Hour), 24 * time.Hour, time.Time{}, false},
		{"past it", 12, first.Add(30 * time.Hour), 24 * time.Hour, time.Time{}, false},
		{"no retries", 1, first, 0, time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next, ok := notify.NextRetry(tc.attempt, first, tc.now, tc.retryFor, fixed(1))
			if ok != tc.ok || !next.Equal(tc.want) {
				t.Fatalf("NextRetry = %s, %v; want %s, %v", next, ok, tc.want, tc.ok)
			}
		})
	}
}

// A message whose endpoint never answers is tried for 24 hours and then
// given up: a few dozen attempts, never more than an hour apart, the last
// at the deadline.
func TestNextRetryOverADay(t *testing.T) {
	first := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	now, attempts := first, 1
	for {
		next, ok := notify.NextRetry(attempts, first, now, notify.DefaultRetryFor, fixed(0.5))
		if !ok {
			break
		}
		if w := next.Sub(now); w <= 0 || w > notify.MaxDelay {
			t.Fatalf("attempt %d: wait %s", attempts, w)
		}
		now = next
		attempts++
		if attempts > 1000 {
			t.Fatal("never gives up")
		}
	}
	if !now.Equal(first.Add(notify.DefaultRetryFor)) || attempts < 24 || attempts > 60 {
		t.Fatalf("%d attempts, the last at %s", attempts, now)
	}
}
