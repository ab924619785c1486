package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"dialhook/store"
)

const (
	pageSize    = 50
	searchLimit = 200
)

// eventsQuery is what the events page shows: a state ("" for all), a
// source ("" for all), a search, and the cursor of a page.
type eventsQuery struct {
	State  store.State
	Source string
	Search string
	Cursor string
}

// parseEventsQuery reads the page's query; an unknown state is an error.
func parseEventsQuery(v url.Values) (eventsQuery, error) {
	q := eventsQuery{Source: v.Get("source"), Search: v.Get("q"), Cursor: v.Get("cursor")}
	if s := v.Get("state"); s != "" && s != "all" {
		q.State = store.State(s)
		if !q.State.Valid() {
			return q, errors.New("there is no state " + s)
		}
	}
	return q, nil
}

// url is the page's address with q's filters and the cursor given.
func (q eventsQuery) url(path, cursor string) string {
	v := url.Values{}
	if q.State != "" {
		v.Set("state", string(q.State))
	}
	if q.Source != "" {
		v.Set("source", q.Source)
	}
	if q.Search != "" {
		v.Set("q", q.Search)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// stateCount is one badge of the counts across the top.
type stateCount struct {
	State  store.State
	Count  int64
	URL    string
	Active bool
}

type countsView struct {
	All      stateCount
	States   []stateCount
	Error    string
	Searched bool
}

type eventsView struct {
	Q       eventsQuery
	Sources []string
	States  []store.State
	Counts  countsView
	Events  []*store.Event
	Next    string // the older page's address
	First   string // the newest page's address, when on an older one
	Live    string // polled for live updates; "" when not live
	Note    string
}

func (c *Console) eventsPage(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventsQuery(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error()+"; pick one from the list.")
		return
	}
	v := eventsView{Q: q, States: store.States, Sources: c.sourceNames()}
	evs, next, err := c.events(r.Context(), q)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		c.fail(w, r, http.StatusBadRequest, "That page's cursor is not one this console gave; start again from the newest events.")
		return
	case err != nil:
		c.storeFailed(w, r, err)
		return
	}
	// A search is echoed in the page and its links: never a secret, even
	// one typed in.
	q.Search = c.scrub(q.Search)
	v.Q, v.Events, v.Counts = q, evs, c.counts(r.Context(), q)
	if next != "" {
		v.Next = q.url("/ui/", next)
	}
	if q.Cursor != "" {
		v.First = q.url("/ui/", "")
	} else {
		v.Live = q.url("/ui/live", "")
	}
	if q.Search != "" {
		v.Note = "Matches of “" + q.Search + "” by event id, dedup key, CRM record id, destination number or call GUID, newest first"
		if len(evs) >= searchLimit {
			v.Note += " (the first " + strconv.Itoa(searchLimit) + ")"
		}
	}
	c.render(w, r, http.StatusOK, "events", "Events", v)
}

// events answers the events q asks for and the next page's cursor. A
// search answers one page of matches, filtered by state and source here.
func (c *Console) events(ctx context.Context, q eventsQuery) ([]*store.Event, string, error) {
	if q.Search == "" {
		p, err := c.store.List(ctx, store.ListQuery{State: q.State, Source: q.Source, Limit: pageSize, Cursor: q.Cursor})
		return p.Events, p.Next, err
	}
	found, err := c.store.Search(ctx, q.Search, searchLimit)
	if err != nil {
		return nil, "", err
	}
	return slices.DeleteFunc(found, func(e *store.Event) bool {
		return (q.State != "" && e.State != q.State) || (q.Source != "" && e.Source != q.Source)
	}), "", nil
}

// counts are the events per state across the top, each a link to its
// filter (keeping the source and the search).
func (c *Console) counts(ctx context.Context, q eventsQuery) countsView {
	cv := countsView{Searched: q.Search != ""}
	st, err := c.store.Stats(ctx, c.now())
	if err != nil {
		cv.Error = "counts unavailable: the store did not answer"
	}
	all := q
	all.State = ""
	cv.All = stateCount{URL: all.url("/ui/", ""), Active: q.State == ""}
	for _, s := range store.States {
		n := st.ByState[s]
		cv.All.Count += n
		one := q
		one.State = s
		cv.States = append(cv.States, stateCount{State: s, Count: n, URL: one.url("/ui/", ""), Active: q.State == s})
	}
	return cv
}

// live answers the first page's rows and counts as HTML fragments, for
// the script that refreshes the events page every second. Any replica
// answers it from the shared store: nothing is kept between polls.
func (c *Console) live(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventsQuery(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	q.Cursor = ""
	evs, _, err := c.events(r.Context(), q)
	if err != nil {
		status := http.StatusInternalServerError
		if isUnavailable(err) {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]string{"error": "store"})
		return
	}
	rows, err1 := c.fragment("events", "rows", evs)
	counts, err2 := c.fragment("events", "counts", c.counts(r.Context(), q))
	if err := errors.Join(err1, err2); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "render"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"rows": rows, "counts": counts})
}

func (c *Console) sourceNames() []string {
	out := make([]string, 0, len(c.sources))
	for _, s := range c.sources {
		out = append(out, s.Name)
	}
	return out
}

func isUnavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
