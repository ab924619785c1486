package intake_test

import (
	"strings"
	"testing"
	"time"

	"dialhook/intake"
	"dialhook/mapping"
	"dialhook/schedule"
	"dialhook/store"
	"dialhook/ucontact"
)

// destinationSource is a source whose call window, 08:00–21:00, is read in
// the called number's own zones.
func destinationSource(t *testing.T, phone mapping.PhoneOptions, maxDelay time.Duration) *intake.Source {
	t.Helper()
	mp, err := mapping.Compile(mapping.Spec{Source: "crm", Kind: "generic", Region: "UY", Phone: phone,
		Rules:    map[string]any{"destination": "destination"},
		Defaults: ucontact.Params{CallerID: "59829001234", Agent: "1001", Phone: "1001", Context: "from-internal", OutQueue: "Ventas->"}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := schedule.Compile(schedule.Spec{Timezone: schedule.Destination, Fallback: "America/Montevideo",
		Start: "08:00", End: "21:00", MaxDelay: maxDelay})
	if err != nil {
		t.Fatal(err)
	}
	return &intake.Source{Name: "crm", Mapper: mp, Window: w}
}

// The plan schedules each event for the opening of the window in its
// destination's zones, and the dry run says which zones those were.
func TestPlanInDestinationZones(t *testing.T) {
	allowInvalid := mapping.PhoneOptions{AllowInvalid: true} // test numbers need not be in service
	cases := []struct {
		name     string
		phone    mapping.PhoneOptions
		maxDelay time.Duration
		number   string
		now      string
		state    store.State
		due      string // UTC, for scheduled
		explain  string // in the dry run's call_window
	}{
		{"UY before 08:00", allowInvalid, 0, "+598 99 123 456", "2026-11-27 10:30", store.Scheduled, "2026-11-27T11:00:00Z",
			"call window evaluated in America/Montevideo (from +59899123456): closed now; due at 2026-11-27T11:00:00Z"},
		{"JP open", allowInvalid, 0, "+81 3 1234 5678", "2026-11-27 10:30", store.Queued, "",
			"call window evaluated in Asia/Tokyo (from +81312345678): open now"},
		{"AU one zone open, one not", allowInvalid, 0, "+61 8 9345 6789", "2026-11-26 23:00", store.Scheduled, "2026-11-27T00:00:00Z",
			"Australia/Adelaide, Australia/Perth (from +61893456789; open only when open in every one): closed now"},
		{"JP beyond max_delay", allowInvalid, time.Hour, "+81 3 1234 5678", "2026-11-27 12:30", store.Expired, "",
			"Asia/Tokyo (from +81312345678): the next call window opens at 2026-11-27T23:00:00Z, later than max_delay"},
		{"national format read back", mapping.PhoneOptions{Format: "national", AllowInvalid: true}, 0, "099 123 456", "2026-11-27 10:30",
			store.Scheduled, "2026-11-27T11:00:00Z", "America/Montevideo (from +59899123456)"},
		{"prefix read back", mapping.PhoneOptions{Prefix: "0", AllowInvalid: true}, 0, "+34 612 345 678", "2026-11-27 06:30",
			store.Scheduled, "2026-11-27T07:00:00Z", "Europe/Madrid (from +34612345678)"},
		{"e164 read back", mapping.PhoneOptions{Format: "e164", AllowInvalid: true}, 0, "+91 98765 43210", "2026-11-27 02:00",
			store.Scheduled, "2026-11-27T02:30:00Z", "Asia/Calcutta (from +919876543210)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := destinationSource(t, c.phone, c.maxDelay)
			now, err := time.Parse("2006-01-02 15:04", c.now)
			if err != nil {
				t.Fatal(err)
			}
			ev := mapping.Event{Source: "crm", Kind: "generic", BodyHash: "h", ReceivedAt: now,
				Record: []byte(`{"destination":"` + c.number + `"}`)}
			plans := src.Plan([]mapping.Event{ev}, now, time.Hour)
			rec := plans[0].Submission.Event
			if rec.State != c.state {
				t.Fatalf("state %s (%s), want %s", rec.State, rec.Error, c.state)
			}
			if c.due != "" && (rec.DueAt == nil || rec.DueAt.Format(time.RFC3339) != c.due) {
				t.Errorf("due_at %v, want %s", rec.DueAt, c.due)
			}
			view := intake.View(src, "generic", plans)
			if got := view.Events[0].CallWindow; !strings.Contains(got, c.explain) {
				t.Errorf("call_window %q, want it to say %q", got, c.explain)
			}
		})
	}
}

// A window in a configured zone is explained too, and never looks at the
// number.
func TestPlanInConfiguredZone(t *testing.T) {
	src := destinationSource(t, mapping.PhoneOptions{AllowInvalid: true}, 0)
	w, err := schedule.Parse("America/Montevideo", nil, "08:00", "21:00", 0)
	if err != nil {
		t.Fatal(err)
	}
	src.Window = w
	now := time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC) // 09:30 in Montevideo, 21:30 in Tokyo
	ev := mapping.Event{Source: "crm", Kind: "generic", BodyHash: "h", Record: []byte(`{"destination":"+81312345678"}`)}
	plans := src.Plan([]mapping.Event{ev}, now, time.Hour)
	if st := plans[0].Submission.Event.State; st != store.Queued {
		t.Fatalf("state %s, want queued", st)
	}
	if got, want := intake.View(src, "generic", plans).Events[0].CallWindow, "call window evaluated in America/Montevideo: open now"; got != want {
		t.Errorf("call_window %q, want %q", got, want)
	}
}

// WindowFor, which the dispatcher's retries use, reads the number as the
// plan does.
func TestWindowFor(t *testing.T) {
	src := destinationSource(t, mapping.PhoneOptions{Format: "national"}, 0)
	cases := map[string]string{
		"099123456": "America/Montevideo (from +59899123456)",
		"":          "America/Montevideo (the fallback zone: no destination number yet)",
	}
	for dest, want := range cases {
		if got := src.WindowFor(dest).Zones(); got != want {
			t.Errorf("WindowFor(%q).Zones() = %q, want %q", dest, got, want)
		}
	}
	src.Window = nil
	if src.WindowFor("099123456") != nil {
		t.Error("a source without a window has one")
	}
}
