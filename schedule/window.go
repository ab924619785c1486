// Package schedule decides when a call may be placed: call windows such as
// "Monday to Friday, 09:00 to 18:00 in America/Montevideo".
//
// It must not do I/O or import any dialhook package: it is time arithmetic.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Window is a compiled call window. The zero value (nil) is always open.
type Window struct {
	loc        *time.Location
	days       [7]bool
	start, end int // minutes since midnight; end > start, or end <= start for a window that crosses midnight
	MaxDelay   time.Duration
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Parse compiles a window. days are names such as "mon" or "monday", or
// ranges such as "mon-fri"; empty means every day. start and end are HH:MM;
// empty means the whole day. Every problem is reported in one error.
func Parse(timezone string, days []string, start, end string, maxDelay time.Duration) (*Window, error) {
	var errs []error
	w := &Window{MaxDelay: maxDelay}
	loc, err := time.LoadLocation(timezone)
	if timezone == "" {
		loc = time.UTC
	} else if err != nil {
		errs = append(errs, fmt.Errorf("timezone: %q is not an IANA time zone such as America/Montevideo", timezone))
	}
	w.loc = loc
	if len(days) == 0 {
		for i := range w.days {
			w.days[i] = true
		}
	}
	for _, d := range days {
		from, to, isRange := strings.Cut(strings.ToLower(strings.TrimSpace(d)), "-")
		a, okA := dayNames[short(from)]
		b, okB := a, okA
		if isRange {
			b, okB = dayNames[short(to)]
		}
		if !okA || !okB {
			errs = append(errs, fmt.Errorf("days: %q is not a day (mon, tue, ... or a range such as mon-fri)", d))
			continue
		}
		for i := a; ; i = (i + 1) % 7 {
			w.days[i] = true
			if i == b {
				break
			}
		}
	}
	if w.start, err = clock(start, 0); err != nil {
		errs = append(errs, fmt.Errorf("start: %w", err))
	}
	if w.end, err = clock(end, 24*60); err != nil {
		errs = append(errs, fmt.Errorf("end: %w", err))
	}
	if err == nil && w.start == w.end {
		errs = append(errs, errors.New("end: must differ from start"))
	}
	if maxDelay < 0 {
		errs = append(errs, errors.New("max_delay: must not be negative"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return w, nil
}

func short(s string) string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func clock(s string, empty int) (int, error) {
	if s == "" {
		return empty, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Open reports whether t falls inside the window.
func (w *Window) Open(t time.Time) bool {
	if w == nil {
		return true
	}
	lt := t.In(w.loc)
	m := lt.Hour()*60 + lt.Minute()
	if w.start < w.end {
		return w.days[lt.Weekday()] && m >= w.start && m < w.end
	}
	// Crosses midnight: the part after midnight belongs to the previous day.
	if m >= w.start {
		return w.days[lt.Weekday()]
	}
	if m < w.end {
		return w.days[(lt.Weekday()+6)%7]
	}
	return false
}

// Next returns t when the window is open at t, else the next opening.
// The zero time means the window never opens.
func (w *Window) Next(t time.Time) time.Time {
	if w.Open(t) {
		return t
	}
	lt := t.In(w.loc)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, w.loc)
	for i := 0; i <= 8; i++ {
		d := day.AddDate(0, 0, i)
		if !w.days[d.Weekday()] {
			continue
		}
		open := time.Date(d.Year(), d.Month(), d.Day(), w.start/60, w.start%60, 0, 0, w.loc)
		if open.After(t) {
			return open
		}
	}
	return time.Time{}
}
