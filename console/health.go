package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"dialhook/store"
)

type healthView struct {
	Store      store.Health
	Ready      readyView
	Stats      store.Stats
	StatsError string
	Dialer     DialerStatus
	Dialing    int64
	Known      bool // Dialer reported something
	Version    string
	Started    time.Time
	Uptime     time.Duration
}

func (c *Console) healthPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	now := c.now()
	v := healthView{Store: c.store.Health(ctx), Version: c.version, Started: c.started, Uptime: now.Sub(c.started)}
	v.Store.Error = c.scrub(v.Store.Error)
	v.Ready = c.readiness(ctx)
	st, err := c.store.Stats(ctx, now)
	if err != nil {
		v.StatsError = "The store did not answer its counts."
	}
	v.Stats, v.Dialing = st, st.ByState[store.Dialing]
	if c.dialer != nil {
		v.Dialer = c.dialer()
		v.Dialer.LastError = c.scrub(v.Dialer.LastError)
		v.Known = true
	}
	c.render(w, r, http.StatusOK, "health", "Health", v)
}

// readyView is the store's readiness as /readyz says it: whether a webhook
// can be recorded now, else the answer's code and why.
type readyView struct {
	OK     bool
	Code   string // store_full, store_unavailable or error
	Reason string
}

// readiness asks the store's Ready, as /readyz does: a store that answers
// (Reachable) may still refuse every event (out of memory).
func (c *Console) readiness(ctx context.Context) readyView {
	err := c.store.Ready(ctx)
	switch {
	case err == nil:
		return readyView{OK: true}
	case errors.Is(err, store.ErrFull):
		return readyView{Code: "store_full", Reason: c.scrub(err.Error())}
	case errors.Is(err, store.ErrUnavailable):
		return readyView{Code: "store_unavailable", Reason: c.scrub(err.Error())}
	}
	return readyView{Code: "error", Reason: c.scrub(err.Error())}
}

type refusalView struct {
	store.Refusal
	Shown *requestView
}

type refusedView struct {
	Source  string
	Sources []string
	Rows    []refusalView
	Limit   int
}

const refusedLimit = 200

func (c *Console) refusedPage(w http.ResponseWriter, r *http.Request) {
	v := refusedView{Source: r.URL.Query().Get("source"), Sources: c.sourceNames(), Limit: refusedLimit}
	rows, err := c.store.Refused(r.Context(), v.Source, refusedLimit)
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	for _, f := range rows {
		f.Reason = c.scrub(f.Reason)
		shown := c.viewRequest(&f.Request, store.RefusedBodyMax)
		f.Request = store.Request{} // only ever shown masked
		v.Rows = append(v.Rows, refusalView{Refusal: f, Shown: shown})
	}
	c.render(w, r, http.StatusOK, "refused", "Refused deliveries", v)
}
