package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"dialhook/internal/suggest"
	"dialhook/notify"
	"dialhook/store/redisurl"
)

// NotifyEndpoint is one receiver of signed notifications, an item of the
// notify: list.
type NotifyEndpoint struct {
	// Name names the endpoint in logs, metrics and the attempts recorded
	// on events; "" names it after the URL's host (see NotifyNames).
	Name string `yaml:"name"`
	// URL may hold credentials: the summary masks its password.
	URL     string   `yaml:"url" secret:"url"`
	Secret  string   `yaml:"secret" secret:"true"`
	Types   []string `yaml:"types"`
	Sources []string `yaml:"sources"`
}

// notifyName is a name an endpoint is given: it shows in metrics and
// logs, so it is kept plain.
var notifyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// NotifyNames returns the name of each notify endpoint, in list order:
// its name, or else its URL's host ("notify-N" when the URL has none),
// with -2, -3… added when another endpoint already has that name.
func (c *Config) NotifyNames() []string {
	names := make([]string, len(c.Notify))
	taken := map[string]bool{}
	for i, n := range c.Notify {
		if n.Name != "" {
			names[i] = n.Name
			taken[n.Name] = true
		}
	}
	for i, n := range c.Notify {
		if n.Name != "" {
			continue
		}
		base := fmt.Sprintf("notify-%d", i+1)
		if u, err := url.Parse(n.URL); err == nil && u.Hostname() != "" {
			base = strings.ToLower(u.Hostname())
		}
		name := base
		for k := 2; taken[name]; k++ {
			name = fmt.Sprintf("%s-%d", base, k)
		}
		names[i] = name
		taken[name] = true
	}
	return names
}

// NotifyEndpoints returns the notify list as package notify sends to it:
// names given, secrets decoded, types typed. On a Config that Load
// accepted it cannot fail; the error is for one built by hand.
func (c *Config) NotifyEndpoints() ([]notify.Endpoint, error) {
	names := c.NotifyNames()
	out := make([]notify.Endpoint, len(c.Notify))
	for i, n := range c.Notify {
		key, err := notify.ParseSecret(n.Secret)
		if err != nil {
			return nil, fmt.Errorf("config: notify[%d].secret: %w", i, err)
		}
		ep := notify.Endpoint{Name: names[i], URL: n.URL, Secret: key, Sources: n.Sources}
		for _, t := range n.Types {
			ep.Types = append(ep.Types, notify.Type(t))
		}
		out[i] = ep
	}
	return out, nil
}

// validateNotify checks each notify endpoint: a URL to POST to, a secret
// in the Standard Webhooks form, known types and configured sources, and
// names that tell the endpoints apart. notify_retry_for is checked with
// the limits.
func (c *Config) validateNotify(r *report) {
	named := map[string]int{}
	for i, n := range c.Notify {
		key := fmt.Sprintf("notify[%d]", i)
		if n.Name != "" {
			if !notifyName.MatchString(n.Name) {
				r.add(key+".name", "%q: use letters, digits, '.', '-' and '_' (at most 64)", n.Name)
			}
			if j, dup := named[n.Name]; dup {
				r.add(key+".name", "%q is notify[%d]'s name too; give each endpoint its own", n.Name, j)
			}
			named[n.Name] = i
		}
		switch {
		case n.URL == "":
			r.add(key+".url", "must be set: the address notifications are POSTed to, e.g. https://example.com/hooks/dialhook")
		case !isHTTPURL(n.URL):
			r.add(key+".url", "%q must be an absolute http(s) URL such as https://example.com/hooks/dialhook", redisurl.Mask(n.URL))
		}
		if n.Secret == "" {
			r.add(key+".secret", "must be set: `dialhook secret` prints a new one; give the receiver the same value")
		} else if _, err := notify.ParseSecret(n.Secret); err != nil {
			r.add(key+".secret", "%v; `dialhook secret` prints a new one", err)
		}
		c.validateNotifyFilters(r, key, n)
	}
}

// validateNotifyFilters checks an endpoint's types and sources, suggesting
// the nearest known one for a typo.
func (c *Config) validateNotifyFilters(r *report, key string, n NotifyEndpoint) {
	var types []string
	for _, t := range notify.Types() {
		types = append(types, string(t))
	}
	for j, t := range n.Types {
		if !notify.Type(t).Known() {
			r.add(fmt.Sprintf("%s.types[%d]", key, j), "%q is no notification type; %s", t, suggestOrList(t, types, "the types are "))
		}
	}
	if r.col.isRefused("sources") {
		return // the sources were not read: every name would look unknown
	}
	sources := c.SourceNames()
	for j, s := range n.Sources {
		if _, ok := c.Sources[s]; !ok {
			r.add(fmt.Sprintf("%s.sources[%d]", key, j), "no source is named %q; %s", s, suggestOrList(s, sources, "the sources are "))
		}
	}
}

// suggestOrList says which of known was probably meant by typo, or lists them.
func suggestOrList(typo string, known []string, list string) string {
	if s := suggest.Closest(typo, known); s != "" {
		return "did you mean `" + s + "`?"
	}
	return list + strings.Join(known, ", ")
}
