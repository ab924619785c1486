package enrich_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dialhook/crmapi"
	"dialhook/enrich"
	"dialhook/mapping"
	"dialhook/store"
	"dialhook/ucontact"
)

const apiKey = "api_close_key_s3cret"

// closeAPI is a fake of Close's lead endpoint.
func closeAPI(t *testing.T, status int, body string) (*crmapi.Close, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"))
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/lead/lead_7Kc/" || r.Header.Get("Authorization") != want ||
			!strings.Contains(r.URL.Query().Get("_fields"), "contacts") {
			t.Errorf("request %s %s auth %q", r.Method, r.URL, r.Header.Get("Authorization"))
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return &crmapi.Close{BaseURL: srv.URL}, &calls
}

// leadCreated is a Close lead.created record: contact ids, no phones.
const leadCreated = `{"event":{"id":"ev_1","object_type":"lead","lead_id":"lead_7Kc","action":"created","user_id":"user_1",
 "data":{"id":"lead_7Kc","display_name":"Acme","contact_ids":["cont_1"]}}}`

func pendingEvent(t *testing.T, tries int) *store.Event {
	t.Helper()
	b, err := mapping.MarshalEvent(&mapping.Event{Source: "close", Kind: "close", Record: []byte(leadCreated), ObjectType: "lead",
		RecordID: "lead_7Kc"})
	if err != nil {
		t.Fatal(err)
	}
	p := &store.Enrich{Need: enrich.NeedCloseLead, Ref: "lead_7Kc", Event: b, Tries: tries}
	return &store.Event{ID: "e1", Source: "close", State: store.Queued, Enrich: p}
}

func closeMapper(t *testing.T) *mapping.Mapper {
	t.Helper()
	m, err := mapping.Compile(mapping.Spec{Source: "close", Kind: "close",
		Preset:         map[string]any{"destination": []any{"event.data.phones.0.phone", "event.data.contacts.0.phones.0.phone"}},
		Region:         "UY",
		GlobalDefaults: ucontact.Params{CallerID: "59829001234", Agent: "1001", Phone: "1001", Context: "agentes", OutQueue: "Ventas->"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnrichCloseLead(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		body   string
		tries  int
		want   store.State
		kind   string
		dest   string
		due    time.Duration // wait before the next try, for Queued with a due time
		errHas string
	}{
		{name: "contacts with a phone", status: 200, body: `{"id":"lead_7Kc","contacts":[{"id":"cont_1","phones":[{"phone":"+598 99 123 456","type":"mobile"}]}]}`,
			want: store.Queued, dest: "59899123456"},
		{name: "contacts without phones", status: 200, body: `{"id":"lead_7Kc","contacts":[{"id":"cont_1","phones":[]}]}`,
			want: store.Rejected, kind: store.MappingFailed, errHas: "destination"},
		{name: "key refused", status: 401, body: `{"error":"unauthorized"}`, want: store.Rejected, kind: enrich.ErrorKind, errHas: "api_key"},
		{name: "no such lead", status: 404, body: `{}`, want: store.Rejected, kind: enrich.ErrorKind, errHas: "no such lead"},
		{name: "busy, first try", status: 503, body: `busy`, want: store.Queued, kind: enrich.ErrorKind, due: 7 * time.Second},
		{name: "busy, third try", status: 503, body: `busy`, tries: 2, want: store.Queued, kind: enrich.ErrorKind, due: 20 * time.Second},
		{name: "busy, last try", status: 429, body: `slow down`, tries: 4, want: store.Rejected, kind: enrich.ErrorKind, errHas: "after 5 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, calls := closeAPI(t, tt.status, tt.body)
			e := enrich.New(map[string]enrich.Source{"close": {Mapper: closeMapper(t), CloseAPIKey: apiKey, Close: api}},
				enrich.Options{Now: func() time.Time { return now }})
			out := e.Enrich(context.Background(), pendingEvent(t, tt.tries))
			if out.State != tt.want || out.ErrorKind != tt.kind || out.Params.Destination != tt.dest {
				t.Fatalf("enrichment = %+v", out)
			}
			if !strings.Contains(out.Error, tt.errHas) || strings.Contains(out.Error, apiKey) {
				t.Errorf("error %q: want it to say %q, never the key", out.Error, tt.errHas)
			}
			if tt.due != 0 && !out.DueAt.Equal(now.Add(tt.due)) {
				t.Errorf("due %s, want now+%s", out.DueAt, tt.due)
			}
			if calls.Load() != 1 {
				t.Errorf("%d API calls, want 1", calls.Load())
			}
		})
	}
}
