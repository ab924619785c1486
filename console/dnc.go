package console

import (
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"dialhook/mapping"
	"dialhook/store"
)

// The do-not-call list page: list by prefix, add, remove. Numbers are
// normalized as destinations are (Options.NormalizeNumber).

const dncPage = 100

type dncView struct {
	Prefix  string
	Entries []store.DNCEntry
	Next    string
	Message string
	Error   string
	Off     string // why the list cannot be shown
}

func (c *Console) dnc() (store.DNC, bool) {
	d, ok := c.store.(store.DNC)
	return d, ok && c.normalize != nil
}

func (c *Console) dncPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := dncView{Prefix: q.Get("prefix"), Message: q.Get("msg")}
	d, ok := c.dnc()
	if !ok {
		v.Off = "This store keeps no do-not-call list."
		c.render(w, r, http.StatusOK, "dnc", "Do-not-call list", v)
		return
	}
	entries, next, err := d.DNCList(r.Context(), mapping.Digits(v.Prefix), q.Get("after"), dncPage)
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	v.Entries, v.Next = entries, next
	c.render(w, r, http.StatusOK, "dnc", "Do-not-call list", v)
}

// dncChange answers the add and remove forms.
func (c *Console) dncChange(w http.ResponseWriter, r *http.Request) {
	d, ok := c.dnc()
	if !ok {
		c.fail(w, r, http.StatusNotImplemented, "This store keeps no do-not-call list.")
		return
	}
	raw := r.PostForm.Get("number")
	n, err := c.normalize(raw)
	if err != nil {
		c.render(w, r, http.StatusBadRequest, "dnc", "Do-not-call list", dncView{Error: "“" + raw + "” is not a phone number: " + err.Error()})
		return
	}
	msg := n + " is on the do-not-call list."
	if r.PostForm.Get("action") == "remove" {
		removed, err := d.DNCRemove(r.Context(), n)
		if err != nil {
			c.storeFailed(w, r, err)
			return
		}
		msg = n + " was not on the list."
		if removed {
			msg = n + " was removed from the list."
		}
	} else if err := d.DNCAdd(r.Context(), []store.DNCEntry{{Number: n, AddedAt: c.now().UTC(), By: "console"}}); err != nil {
		c.storeFailed(w, r, err)
		return
	}
	c.log.Info("do-not-call list changed", zap.String("number", n), zap.String("action", r.PostForm.Get("action")),
		zap.String("client", "console "+clientAddr(r)), zap.Time("at", time.Now()))
	http.Redirect(w, r, "/ui/dnc?prefix="+url.QueryEscape(n)+"&msg="+url.QueryEscape(msg), http.StatusSeeOther)
}
