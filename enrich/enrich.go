// Package enrich completes events whose record lacks what their mapping
// needs, from the CRM's own API (today: a Close lead's contacts), and maps
// them again. The dispatcher calls it before the call, never in a webhook's
// answer path; it never dials and never writes to the store.
//
// It must not: import Echo, go-redis, handlers, intake or dispatch.
package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"dialhook/crmapi"
	"dialhook/mapping"
	"dialhook/store"
)

// NeedCloseLead: fetch the lead's contacts from Close's API.
const NeedCloseLead = mapping.FetchCloseLead

// ErrorKind is the error_kind of an event whose fetch failed for good.
const ErrorKind = "enrich_failed"

// Source is what the enricher needs of one configured source.
type Source struct {
	Mapper      *mapping.Mapper
	CloseAPIKey string
	Close       *crmapi.Close // this source's Close API client (default Options.Close)
}

// Options tune the Enricher.
type Options struct {
	Close    *crmapi.Close // Close's API client (default: api.close.com)
	MaxTries int           // fetches in all before the event is rejected (default 5)
	Base     time.Duration // first wait after a failed fetch (default 5s), doubling
	Cap      time.Duration // longest wait (default 10m)
	Now      func() time.Time
}

// Enricher fetches and maps events again.
type Enricher struct {
	sources map[string]Source
	o       Options
}

// New returns an Enricher for sources (by name).
func New(sources map[string]Source, o Options) *Enricher {
	if o.Close == nil {
		o.Close = &crmapi.Close{}
	}
	if o.MaxTries < 1 {
		o.MaxTries = 5
	}
	if o.Base <= 0 {
		o.Base = 5 * time.Second
	}
	if o.Cap <= 0 {
		o.Cap = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Enricher{sources: sources, o: o}
}

// Enrich fetches what ev lacks and maps it again. A fetch that may work
// later is tried again after a backoff, up to MaxTries in all; one that
// cannot (refused key, no such lead) rejects the event at once.
func (e *Enricher) Enrich(ctx context.Context, ev *store.Event) store.Enrichment {
	src, ok := e.sources[ev.Source]
	if !ok || ev.Enrich == nil {
		return reject(fmt.Sprintf("enrich: source %q has nothing to fetch this event with", ev.Source))
	}
	mev, err := mapping.UnmarshalEvent(ev.Enrich.Event)
	if err != nil {
		return reject(err.Error())
	}
	switch ev.Enrich.Need {
	case NeedCloseLead:
		err = e.closeLead(ctx, src, ev.Enrich.Ref, mev)
	default:
		err = fmt.Errorf("enrich: unknown need %q", ev.Enrich.Need)
	}
	if err != nil {
		return e.failed(ev, err)
	}
	res, err := src.Mapper.MapParams(mev)
	var me *mapping.Error
	switch {
	case errors.As(err, &me):
		return store.Enrichment{State: store.Rejected, ErrorKind: store.MappingFailed, Error: me.Error(), Fields: me.Fields, Params: res.Params}
	case err != nil:
		return store.Enrichment{State: store.Rejected, ErrorKind: store.MappingFailed, Error: err.Error()}
	case !res.Matched:
		return store.Enrichment{State: store.Ignored, Params: res.Params}
	}
	return store.Enrichment{State: store.Queued, Params: res.Params, Warnings: res.Warnings}
}

func reject(msg string) store.Enrichment {
	return store.Enrichment{State: store.Rejected, ErrorKind: ErrorKind, Error: msg}
}

// failed is the enrichment after a failed fetch: later, or rejected.
func (e *Enricher) failed(ev *store.Event, err error) store.Enrichment {
	var ae *crmapi.Error
	tries := ev.Enrich.Tries + 1
	if !errors.As(err, &ae) || !ae.Retryable {
		return reject("could not fetch what the mapping needs: " + err.Error())
	}
	if tries >= e.o.MaxTries {
		return reject(fmt.Sprintf("could not fetch what the mapping needs after %d attempts: %v", tries, err))
	}
	wait := min(e.o.Base<<min(tries-1, 20), e.o.Cap)
	wait = max(wait, min(ae.RetryAfter, e.o.Cap))
	return store.Enrichment{State: store.Queued, DueAt: e.o.Now().Add(wait), ErrorKind: ErrorKind, Error: err.Error()}
}

// closeLead puts the lead's contacts, fetched from Close, in the record at
// event.data.contacts, where the close preset looks for a phone.
func (e *Enricher) closeLead(ctx context.Context, src Source, leadID string, ev *mapping.Event) error {
	if src.CloseAPIKey == "" {
		return errors.New("the source has no api_key to read the lead's contacts with")
	}
	api := src.Close
	if api == nil {
		api = e.o.Close
	}
	contacts, err := api.LeadContacts(ctx, src.CloseAPIKey, leadID)
	if err != nil {
		return err
	}
	rec, err := setPath(ev.Record, contacts, "event", "data", "contacts")
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	ev.Record = rec
	return nil
}

// setPath sets obj.path[0].path[1]… = value, creating objects on the way.
func setPath(obj json.RawMessage, value json.RawMessage, path ...string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(obj) > 0 {
		if err := json.Unmarshal(obj, &m); err != nil {
			return nil, fmt.Errorf("the record is not a JSON object: %w", err)
		}
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	if len(path) == 1 {
		m[path[0]] = value
	} else {
		inner, err := setPath(m[path[0]], value, path[1:]...)
		if err != nil {
			return nil, err
		}
		m[path[0]] = inner
	}
	return json.Marshal(m)
}
