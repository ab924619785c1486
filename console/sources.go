package console

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"dialhook/crm"
	"dialhook/intake"
	"dialhook/store"
)

type sourceRow struct {
	*SourceInfo
	URL      string
	Activity store.SourceActivity
}

type sourcesView struct {
	Rows  []sourceRow
	Error string
}

func (c *Console) sourcesPage(w http.ResponseWriter, r *http.Request) {
	v := sourcesView{}
	act, err := c.store.Activity(r.Context(), c.sourceNames(), c.now())
	if err != nil {
		v.Error = "The store did not answer the sources' activity; the counts are missing."
	}
	for i := range c.sources {
		s := &c.sources[i]
		v.Rows = append(v.Rows, sourceRow{SourceInfo: s, URL: c.baseURL(r, s) + "/webhooks/" + s.Name, Activity: act[s.Name]})
	}
	c.render(w, r, http.StatusOK, "sources", "Sources", v)
}

// playgroundView is the mapping playground of one source.
type playgroundView struct {
	Source      *SourceInfo
	Body        string
	ContentType string
	Types       []string
	Recent      []*store.Event
	Ran         bool
	Error       string
	Ignored     string
	Events      []mappedView
}

// contentTypes are offered in the playground; "" guesses from the body.
var contentTypes = []string{"", "application/json", "application/x-www-form-urlencoded", "text/xml"}

func (c *Console) playgroundSource(w http.ResponseWriter, r *http.Request) (*SourceInfo, bool) {
	src := c.byName[r.PathValue("name")]
	switch {
	case src == nil:
		c.fail(w, r, http.StatusNotFound, "There is no source called "+r.PathValue("name")+".")
		return nil, false
	case src.Source == nil:
		c.fail(w, r, http.StatusConflict, "Source "+src.Name+" could not be built from the configuration, so it cannot map anything.")
		return nil, false
	}
	return src, true
}

// playgroundPage shows the form, filled with the request of a recent event
// when ?from= names one.
func (c *Console) playgroundPage(w http.ResponseWriter, r *http.Request) {
	src, ok := c.playgroundSource(w, r)
	if !ok {
		return
	}
	v := playgroundView{Source: src, Types: contentTypes, Recent: c.recent(r.Context(), src.Name)}
	if id := r.URL.Query().Get("from"); id != "" {
		ev, err := c.store.Get(r.Context(), id)
		switch {
		case err != nil:
			v.Error = "Event " + id + " could not be read."
		case ev.Request == nil:
			v.Error = "The request of event " + id + " was not kept."
		default:
			v.Body, v.ContentType = c.scrub(ev.Request.Body), headerValue(ev.Request.Headers, "Content-Type")
		}
	}
	c.render(w, r, http.StatusOK, "playground", "Playground: "+src.Name, v)
}

// playground maps a pasted body as the source would: nothing is recorded,
// nothing is dialed, and no credential is checked.
func (c *Console) playground(w http.ResponseWriter, r *http.Request) {
	src, ok := c.playgroundSource(w, r)
	if !ok {
		return
	}
	body, ct := r.PostFormValue("body"), r.PostFormValue("content_type")
	v := playgroundView{Source: src, Types: contentTypes, Recent: c.recent(r.Context(), src.Name), Ran: true,
		Body: c.scrub(body), ContentType: ct}
	if int64(len(body)) > c.maxBody {
		v.Error = "The body is larger than max_body_bytes."
		c.render(w, r, http.StatusRequestEntityTooLarge, "playground", "Playground: "+src.Name, v)
		return
	}
	if ct == "" {
		ct = crm.GuessContentType([]byte(body))
	}
	h := http.Header{}
	h.Set("Content-Type", ct)
	req := &crm.Request{Method: http.MethodPost, URL: &url.URL{Path: "/webhooks/" + src.Name}, Host: r.Host, Header: h,
		Body: []byte(body), Now: c.now()}
	res, err := c.explain.Explain(r.Context(), src.Source, req)
	switch {
	case err != nil:
		v.Error = c.explainError(err)
	case res.Ignored != "":
		v.Ignored = res.Ignored
	default:
		for _, d := range intake.View(src.Source, src.Source.Adapter.Kind(), res.Plans).Events {
			v.Events = append(v.Events, c.mapped(d))
		}
	}
	c.render(w, r, http.StatusOK, "playground", "Playground: "+src.Name, v)
}

// recent lists the source's newest events, whose requests the playground
// can load.
func (c *Console) recent(ctx context.Context, source string) []*store.Event {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, err := c.store.List(ctx, store.ListQuery{Source: source, Limit: 10})
	if err != nil {
		return nil
	}
	return p.Events
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
			return v
		}
	}
	return ""
}
