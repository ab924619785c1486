// Package schedule decides when a call may be placed: call windows such as
// "Monday to Friday, 09:00 to 18:00 in America/Montevideo".
//
// It must not do I/O or import any dialhook package: it is time arithmetic,
// plus the phone library's table of the time zones of numbers (embedded in
// the library) for windows evaluated in the called party's local time.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Window is a compiled call window. The zero value (nil) is always open.
//
// A window is evaluated in one or more time zones: the one configured, or,
// with timezone Destination, the zones of the number called (see For). With
// several zones it is open only when it is open in every one of them.
type Window struct {
	locs       []*time.Location
	days       [7]bool
	start, end int // minutes since midnight; end > start, or end <= start for a window that crosses midnight
	MaxDelay   time.Duration
	dest       *destZones // timezone Destination; nil for a configured zone
	number     string     // For: the number locs come from
	fellBack   bool       // For: the phone library placed the number in no zone
}

// Spec is a call window as configured.
type Spec struct {
	// Timezone is an IANA name such as America/Montevideo ("" is UTC), or
	// Destination.
	Timezone string
	// Fallback is, with Destination, the zone of a number the phone library
	// places in none ("" is UTC). Refused with any other Timezone.
	Fallback   string
	Days       []string
	Start, End string
	MaxDelay   time.Duration
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Parse compiles a window in one configured zone: Compile of a Spec without
// a Fallback.
func Parse(timezone string, days []string, start, end string, maxDelay time.Duration) (*Window, error) {
	return Compile(Spec{Timezone: timezone, Days: days, Start: start, End: end, MaxDelay: maxDelay})
}

// Compile compiles a window. Days are names such as "mon" or "monday", or
// ranges such as "mon-fri"; empty means every day. Start and End are HH:MM;
// empty means the whole day. Every problem is reported in one error, one
// line per problem, each starting with the YAML key at fault.
func Compile(s Spec) (*Window, error) {
	var errs []error
	w := &Window{MaxDelay: s.MaxDelay}
	var loc *time.Location
	var err error
	if s.Timezone == Destination {
		loc, err = zone("fallback_timezone", s.Fallback, "")
		w.dest, w.fellBack = &destZones{fallback: loc}, true // until For gives a number
	} else {
		loc, err = zone("timezone", s.Timezone, ", or destination (the called number's own zones)")
		if s.Fallback != "" {
			errs = append(errs, fmt.Errorf("fallback_timezone: is read only with timezone: %s (it is the zone of a number the phone library cannot place); remove it, or set timezone: %s", Destination, Destination))
		}
	}
	if err != nil {
		errs = append(errs, err)
	}
	w.locs = []*time.Location{loc}
	errs = append(errs, w.parseDays(s.Days)...)
	if w.start, err = clock(s.Start, 0); err != nil {
		errs = append(errs, fmt.Errorf("start: %w", err))
	}
	if w.end, err = clock(s.End, 24*60); err != nil {
		errs = append(errs, fmt.Errorf("end: %w", err))
	}
	if err == nil && w.start == w.end {
		errs = append(errs, errors.New("end: must differ from start"))
	}
	if s.MaxDelay < 0 {
		errs = append(errs, errors.New("max_delay: must not be negative"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return w, nil
}

// zone loads the IANA zone name, "" being UTC; key names the setting in
// the error, which ends with or.
func zone(key, name, or string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC, fmt.Errorf("%s: %q is not an IANA time zone such as America/Montevideo%s", key, name, or)
	}
	return loc, nil
}

// parseDays marks the days the window opens on; every day when none.
func (w *Window) parseDays(days []string) []error {
	var errs []error
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
	return errs
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

// Open reports whether t falls inside the window: in every one of its
// zones.
func (w *Window) Open(t time.Time) bool {
	if w == nil {
		return true
	}
	for _, loc := range w.locs {
		if !w.openIn(t, loc) {
			return false
		}
	}
	return true
}

// openIn reports whether t falls inside the window read in loc.
func (w *Window) openIn(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
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

// horizonDays is how many days after today Next looks for an opening: a
// week and a day, enough for any weekly window in zones a day apart.
const horizonDays = 8

// Next returns t when the window is open at t, else the earliest later
// instant at which it is open (in every zone). The zero time means it does
// not open within horizonDays.
//
// The earliest instant open in every zone is an opening in one of them (the
// one that opens last), so it is the earliest of each zone's first opening
// at which every zone is open. A start time that a daylight-saving gap
// skips opens the window when the clocks jump.
func (w *Window) Next(t time.Time) time.Time {
	if w.Open(t) {
		return t
	}
	var first time.Time
	for _, loc := range w.locs {
		if c := w.nextFrom(t, loc); !c.IsZero() && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	return first
}

// nextFrom returns the first opening in loc after t at which the window is
// open in every zone; zero when none within horizonDays.
func (w *Window) nextFrom(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	for i := 0; i <= horizonDays; i++ {
		d := time.Date(lt.Year(), lt.Month(), lt.Day()+i, 12, 0, 0, 0, loc)
		if !w.days[d.Weekday()] {
			continue
		}
		open := time.Date(d.Year(), d.Month(), d.Day(), w.start/60, w.start%60, 0, 0, loc)
		if open.Hour()*60+open.Minute() != w.start {
			open = afterGap(open)
		}
		if open.After(t) && w.Open(open) {
			return open
		}
	}
	return time.Time{}
}

// afterGap returns the instant the clocks jumped over a start time that
// does not exist that day (a daylight-saving gap): the window opens then.
// time.Date reads such a time with one of the two offsets, an hour early
// or late; the jump is the zone change next to it.
func afterGap(t time.Time) time.Time {
	const near = 3 * time.Hour
	from, to := t.ZoneBounds()
	switch {
	case !to.IsZero() && to.Sub(t) <= near:
		return to
	case !from.IsZero() && t.Sub(from) <= near:
		return from
	}
	return t
}
