package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"dialhook/store"
)

//go:embed templates static
var files embed.FS

// pageNames are the templates under templates/, each a page of its own
// on top of layout.html and partials.html.
var pageNames = []string{"events", "event", "confirm", "refused", "sources", "playground", "health", "dnc", "signin", "forbidden", "error"}

// pages holds each page's parsed template set.
type pages map[string]*template.Template

func parsePages() pages {
	p := pages{}
	for _, name := range pageNames {
		t := template.New(name).Funcs(funcs)
		p[name] = template.Must(t.ParseFS(files, "templates/layout.html", "templates/partials.html", "templates/"+name+".html"))
	}
	return p
}

func staticFiles() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // embedded: always there
	}
	fsrv := http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}

// page is what layout.html renders around a page's content.
type page struct {
	Title   string
	Nav     string // the section the page belongs to, for the menu
	CSRF    string
	SignOut bool // signed in with the admin token: offer to sign out
	Bare    bool // no menu: the sign-in and refusal pages
	Data    any
}

// render writes a page; it renders it whole first, so that a template
// error answers 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	p := page{Title: title, Nav: name, Data: data, SignOut: c.tokenMode && c.signedIn(r),
		Bare: name == "signin" || name == "forbidden"}
	if name != "forbidden" {
		p.CSRF = c.csrfFor(w, r)
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: render", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(c.redactOut.Replace(buf.String())))
}

// fragment renders one named template of a page's set, for the live
// updates.
func (c *Console) fragment(name, tmpl string, data any) (string, error) {
	var buf bytes.Buffer
	err := c.pages[name].ExecuteTemplate(&buf, tmpl, data)
	return c.redactOut.Replace(buf.String()), err
}

type errorView struct {
	Status  int
	Message string
}

// fail answers an error page: message is for the operator and never holds
// a secret or a store's internal detail.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	c.render(w, r, status, "error", http.StatusText(status), errorView{Status: status, Message: message})
}

// storeFailed answers a store error: unreachable (503), or internal (500,
// the cause logged).
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if isUnavailable(err) {
		c.fail(w, r, http.StatusServiceUnavailable, "The store is unreachable; try again in a moment.")
		return
	}
	c.log.Error("console: store", zap.Error(err))
	c.fail(w, r, http.StatusInternalServerError, "Internal error reading the store (see the log).")
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, http.StatusNotFound, "There is no such page in the console.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// clientAddr is the TCP peer address (not a header a client can forge).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var funcs = template.FuncMap{
	"when":       when,
	"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"whenp":      func(t *time.Time) string { return whenPtr(t) },
	"dur":        dur,
	"stateClass": stateClass,
	"short":      short,
	"eventURL":   func(id string) string { return "/ui/events/" + url.PathEscape(id) },
	"join":       strings.Join,
	"record":     record,
}

// record names a CRM record: its object type and id, or a dash.
func record(objectType, id string) string {
	if objectType == "" && id == "" {
		return "—"
	}
	return strings.TrimSpace(objectType + " " + id)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return when(*t)
}

// dur writes a duration for people: 3h12m, 4.2s, 850ms.
func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
}

// stateClass is the CSS class that colours a state's badge.
func stateClass(s store.State) string {
	switch s {
	case store.Placed, store.Completed:
		return "st-ok"
	case store.Queued, store.Scheduled, store.Dialing:
		return "st-wait"
	case store.Rejected, store.Failed:
		return "st-bad"
	case store.Unknown, store.AgentNoAnswer:
		return "st-warn"
	}
	return "st-off"
}

// short cuts a long id for a table cell; the title shows it whole.
func short(s string) string {
	if len(s) <= 13 {
		return s
	}
	return s[:8] + "…"
}
