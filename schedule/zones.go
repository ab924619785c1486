package schedule

import (
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Destination is the timezone that evaluates a window in the called
// number's own time zones (see Window.For).
const Destination = "destination"

// ZonesOf returns the IANA time zones the phone library gives the number,
// written in E.164 with or without its '+' ("+59899123456" →
// [America/Montevideo]); several for a number whose range spans zones
// (Australian mobiles, some US area codes); nil when it places the number
// in none, or it is not a number. The slice is the library's: read only.
func ZonesOf(e164 string) []string {
	digits := strings.TrimPrefix(e164, "+")
	if digits == "" || len(digits) > 15 || strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return nil
	}
	zones, err := phonenumbers.GetTimezonesForPrefix(digits)
	if err != nil || len(zones) == 0 || (len(zones) == 1 && zones[0] == phonenumbers.UNKNOWN_TIMEZONE) {
		return nil
	}
	return zones
}

// destZones is what a window with timezone Destination keeps: its fallback
// zone and the zones it has loaded, by name (bounded by the zones of the
// phone library's table, a few hundred).
type destZones struct {
	fallback *time.Location
	loaded   sync.Map // IANA name → *time.Location, or nil when it does not load
}

// locations loads the named zones. A zone that does not load (a name the
// system's zone database lacks) is replaced by the fallback zone rather
// than dropped: dropping it would make the window less restrictive. nil
// when names is empty.
func (d *destZones) locations(names []string) []*time.Location {
	if len(names) == 0 {
		return nil
	}
	out := make([]*time.Location, 0, len(names))
	for _, n := range names {
		v, ok := d.loaded.Load(n)
		if !ok {
			loc, err := time.LoadLocation(n)
			if err != nil || n == phonenumbers.UNKNOWN_TIMEZONE {
				loc = nil
			}
			v, _ = d.loaded.LoadOrStore(n, loc)
		}
		loc, _ := v.(*time.Location)
		if loc == nil {
			loc = d.fallback
		}
		out = append(out, loc)
	}
	return out
}

// ByDestination reports whether the window is evaluated in the called
// number's zones (timezone Destination), so that callers look the number up
// only then.
func (w *Window) ByDestination() bool {
	return w != nil && w.dest != nil
}

// For returns the window that applies to a call to number (E.164, the '+'
// optional): with timezone Destination, the window evaluated in the
// number's zones, or in the fallback zone when the phone library places it
// in none (or number is ""); otherwise w itself.
func (w *Window) For(number string) *Window {
	if !w.ByDestination() {
		return w
	}
	c := *w
	c.number, c.fellBack = number, false
	c.locs = w.dest.locations(ZonesOf(number))
	if c.locs == nil {
		c.locs, c.fellBack = w.locs, true
	}
	return &c
}

// Zones says where the window is evaluated, for explanations:
// "America/Montevideo", "America/Montevideo (from +59899123456)",
// "Australia/Perth, Australia/Sydney (from +61412345678; open only when
// open in every one)", "UTC (the fallback zone: no zone is known for
// +88…)". "" for a nil window.
func (w *Window) Zones() string {
	if w == nil {
		return ""
	}
	names := make([]string, len(w.locs))
	for i, l := range w.locs {
		names[i] = l.String()
	}
	s := strings.Join(names, ", ")
	switch {
	case w.dest == nil:
		return s
	case w.fellBack && w.number == "":
		return s + " (the fallback zone: no destination number yet)"
	case w.fellBack:
		return s + " (the fallback zone: the phone library knows no time zone for " + plus(w.number) + ")"
	case len(names) > 1:
		return s + " (from " + plus(w.number) + "; open only when open in every one)"
	}
	return s + " (from " + plus(w.number) + ")"
}

func plus(n string) string {
	if strings.HasPrefix(n, "+") {
		return n
	}
	return "+" + n
}
