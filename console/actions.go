package console

import (
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"dialhook/intake"
	"dialhook/store"
)

// confirmView is the confirmation step of an action: what it will do, a
// checkbox "I confirm" and the button; or why it cannot be done.
type confirmView struct {
	Ev      *store.Event
	Action  string // "redial" or "replay"
	Verb    string
	What    string
	Blocked string // why the action cannot be done: no form then
	Error   string // why the last try did not go through
}

func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "yes" }

func (c *Console) redialView(ev *store.Event) confirmView {
	return confirmView{Ev: ev, Action: "redial", Verb: "Redial", Blocked: redialNote(ev),
		What: "Dial this event again: it goes back to the queue and is dialed once, with the parameters recorded " +
			"(destination " + orNone(ev.Params.Destination) + ", agent " + orNone(ev.Params.Agent) + ")."}
}

func (c *Console) replayView(ev *store.Event) confirmView {
	return confirmView{Ev: ev, Action: "replay", Verb: "Replay", Blocked: c.replayNote(ev, c.byName[ev.Source]),
		What: "Run the stored request through the current configuration as a new event with a new id: it is mapped " +
			"again and, if it maps, dialed once. This event stays as it is."}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (c *Console) redialPage(w http.ResponseWriter, r *http.Request) {
	if ev, ok := c.getEvent(w, r); ok {
		c.render(w, r, http.StatusOK, "confirm", "Redial event "+ev.ID, c.redialView(ev))
	}
}

func (c *Console) replayPage(w http.ResponseWriter, r *http.Request) {
	if ev, ok := c.getEvent(w, r); ok {
		c.render(w, r, http.StatusOK, "confirm", "Replay event "+ev.ID, c.replayView(ev))
	}
}

// redial asks the store to dial the event again; the store checks the
// rule atomically, and its refusal is explained as the admin API does.
func (c *Console) redial(w http.ResponseWriter, r *http.Request) {
	ev, ok := c.getEvent(w, r)
	if !ok {
		return
	}
	v := c.redialView(ev)
	if !confirmed(r) {
		v.Error = "Tick “I confirm” to redial."
		c.render(w, r, http.StatusBadRequest, "confirm", "Redial event "+ev.ID, v)
		return
	}
	now, err := c.store.Redial(r.Context(), ev.ID, store.Redial{At: c.now().UTC(), Client: "console"})
	switch {
	case errors.Is(err, store.ErrNotRedialable):
		v.Blocked = notRedialable
	case errors.Is(err, store.ErrConflict):
		state := ev.State
		if now != nil {
			state = now.State
		}
		v.Blocked = onlyFinalFailures(state)
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, "The event is gone (it outlived the retention).")
		return
	case err != nil:
		c.storeFailed(w, r, err)
		return
	default:
		c.log.Info("redial requested", zap.String("event_id", ev.ID), zap.String("client", "console "+clientAddr(r)))
		http.Redirect(w, r, "/ui/events/"+url.PathEscape(ev.ID)+"?done=redial", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusConflict, "confirm", "Redial event "+ev.ID, v)
}

// replay makes a new event of the stored request.
func (c *Console) replay(w http.ResponseWriter, r *http.Request) {
	ev, ok := c.getEvent(w, r)
	if !ok {
		return
	}
	v := c.replayView(ev)
	switch {
	case v.Blocked != "":
		c.render(w, r, http.StatusConflict, "confirm", "Replay event "+ev.ID, v)
		return
	case !confirmed(r):
		v.Error = "Tick “I confirm” to replay."
		c.render(w, r, http.StatusBadRequest, "confirm", "Replay event "+ev.ID, v)
		return
	}
	fresh, err := c.replayer.Replay(r.Context(), ev)
	if err != nil {
		status, msg := replayError(err)
		c.log.Warn("console replay failed", zap.String("event_id", ev.ID), zap.Error(err))
		v.Error = c.scrub(msg)
		c.render(w, r, status, "confirm", "Replay event "+ev.ID, v)
		return
	}
	c.log.Info("replay", zap.String("event_id", ev.ID), zap.String("new_event_id", fresh.ID), zap.String("client", "console "+clientAddr(r)))
	http.Redirect(w, r, "/ui/events/"+url.PathEscape(fresh.ID)+"?done=replay", http.StatusSeeOther)
}

// replayError is the status and message of a failed replay: intake's
// message when it is intake's error, which is safe to show.
func replayError(err error) (int, string) {
	var ie *intake.Error
	if !errors.As(err, &ie) {
		return http.StatusInternalServerError, "Replay failed: " + err.Error()
	}
	switch ie.Kind {
	case intake.Malformed, intake.Unprocessable:
		return http.StatusUnprocessableEntity, "The stored request no longer parses: " + ie.Msg
	case intake.StoreUnavailable, intake.StoreFull, intake.QueueFull:
		return http.StatusServiceUnavailable, ie.Msg
	}
	return http.StatusInternalServerError, "Replay failed: " + ie.Msg
}
