// Package redisurl reads dialhook's Redis URL into go-redis options: one
// Redis, a Redis Cluster or a Sentinel group. It is a leaf: config
// validates a URL with it and store connects with it; it does no I/O.
//
// The URL is go-redis' own, read by its ParseURL, ParseClusterURL and
// ParseFailoverURL, with two additions kept by hand because the README
// promised them before go-redis had these parsers: several addresses
// separated by commas (go-redis takes extra ones as addr= parameters), and
// master=NAME for Sentinel (go-redis' master_name=). cluster=true makes a
// single address a Cluster seed.
package redisurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Mode is the kind of deployment a URL names.
type Mode int

// The modes of a URL.
const (
	Single Mode = iota
	Cluster
	Sentinel
)

func (m Mode) String() string {
	return [...]string{"single", "cluster", "sentinel"}[m]
}

// URL is a parsed Redis URL: exactly one of the option sets is non-nil.
type URL struct {
	Mode     Mode
	Single   *redis.Options
	Cluster  *redis.ClusterOptions
	Failover *redis.FailoverOptions
}

// Parse reads redis://[user:password@]host:port[,host:port…][/db][?options]
// (rediss:// for TLS). One address is one Redis; several, or cluster=true,
// a Cluster (database 0 only); master=NAME (or master_name=NAME) makes the
// addresses Sentinels watching that master, and the user and password those
// of the master. Other options are go-redis' (pool_size, client_name, …).
// Errors never repeat the URL, nor any part of it: it may hold a password.
func Parse(raw string) (*URL, error) {
	if l := strings.ToLower(raw); !strings.HasPrefix(l, "redis://") && !strings.HasPrefix(l, "rediss://") {
		return nil, errScheme
	}
	// url.Parse's errors quote the URL (a bad port is often a piece of
	// the password); an @ after the host is a password's / ? or # that
	// the parser took for the end of the host.
	u, err := url.Parse(raw)
	if err != nil || strayAt(raw) {
		return nil, errUnparsable
	}
	if strings.Contains(raw, "#") {
		// A Redis URL has no fragment: this # ends a password or an
		// option's value that the parser cut short.
		if u.RawQuery != "" {
			return nil, errQuery
		}
		return nil, errUnparsable
	}
	var addrs []string
	for _, a := range strings.Split(u.Host, ",") {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "6379")
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, errors.New("redis url: no host")
	}
	// u.Query() drops a pair it cannot decode: a ?password=s3cret%zz would
	// be lost without a word, and the master asked with no password.
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errQuery
	}
	master := q.Get("master")
	q.Del("master")
	if master == "" {
		master = q.Get("master_name")
	}
	q.Del("master_name")
	cluster := q.Get("cluster") == "true" || len(q["addr"]) > 0
	q.Del("cluster")
	u.Host = addrs[0]
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	switch {
	case master != "":
		q.Set("master_name", master)
		u.RawQuery = q.Encode()
		return failover(u)
	case len(addrs) > 1 || cluster:
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			return nil, errors.New("redis url: Redis Cluster has only database 0")
		}
		u.Path = ""
		u.RawQuery = q.Encode()
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, clean(err)
		}
		return &URL{Mode: Cluster, Cluster: o}, nil
	}
	u.RawQuery = q.Encode()
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, clean(err)
	}
	return &URL{Mode: Single, Single: o}, nil
}

// failover reads a Sentinel URL. go-redis gives the URL's user and
// password to the Sentinels and ?username=/?password= to the master;
// dialhook's URL names the master's in either place (Sentinels usually have
// none), the user info winning when both are given, as it always has.
func failover(u *url.URL) (*URL, error) {
	o, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, clean(err)
	}
	if o.SentinelUsername != "" || o.SentinelPassword != "" {
		o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
	}
	o.SentinelUsername, o.SentinelPassword = "", ""
	return &URL{Mode: Sentinel, Failover: o}, nil
}

// The answers to a URL that cannot be read: without its scheme (often a
// password pasted into the wrong variable), refused by url.Parse (or with
// a # that would cut a password short), with a query url.ParseQuery
// refuses. Which part of such a value is a password cannot be told: none
// of it is shown.
var (
	errScheme     = errors.New("redis url: must start with redis:// or rediss:// (the value is not shown: it may be a password)")
	errUnparsable = errors.New("redis url: cannot be parsed; percent-encode special characters in the password " +
		"(/ as %2F, ? as %3F, # as %23, % as %25, @ as %40; the value is not shown)")
	errQuery = errors.New("redis url: the URL's query cannot be read: percent-encode special characters in option values " +
		"(% as %25, & as %26, ; as %3B, # as %23, + as %2B; the value is not shown)")
)

// clean keeps what go-redis' error says is wrong and drops what it quotes
// of the URL (a path, an option's value): only the names of unknown
// options are kept, and only when they look like option names (a lone
// ?s3cret is a piece of a password, not a typo).
func clean(err error) error {
	msg := strings.TrimPrefix(err.Error(), "redis: ")
	if names, ok := strings.CutPrefix(msg, "unexpected option: "); !ok || !optionNames.MatchString(names) {
		msg, _, _ = strings.Cut(msg, ": ")
		if ok {
			msg += " (its name is not shown: it may be a piece of a password)"
		}
	}
	return fmt.Errorf("redis url: %s", msg)
}

// optionNames matches go-redis' list of unknown options when every name in
// it is lower-case letters and underscores.
var optionNames = regexp.MustCompile(`^[a-z_]{1,40}(, [a-z_]{1,40})*$`)

// Client builds the client for the URL.
func (u *URL) Client() redis.UniversalClient {
	switch u.Mode {
	case Cluster:
		return redis.NewClusterClient(u.Cluster)
	case Sentinel:
		return redis.NewFailoverClient(u.Failover)
	}
	return redis.NewClient(u.Single)
}

// Mask hides the credentials of a URL such as
// redis://:secret@host:6379/0?password=secret, even one url.Parse cannot
// read: everything between the scheme's // (or the start) and the last @,
// and the values of password-like options (password, sentinel_password,
// token, …). The user name is kept only when the URL parses and its user
// info is user:password; a lone user name may be a password that lacks its
// colon. A value without :// is hidden whole: it is no URL, and may be a
// password pasted into the wrong variable.
func Mask(s string) string {
	if !strings.Contains(s, "://") {
		return "xxxxx"
	}
	start := 0
	if i := strings.Index(s, "//"); i >= 0 {
		start = i + 2
	}
	at := strings.LastIndex(s, "@")
	if at >= 0 && at < start {
		start = 0
	}
	rest := start
	if at >= 0 {
		user := "xxxxx"
		if name, ok := maskedUser(s, s[start:at]); ok {
			user = name + ":xxxxx"
		}
		s = s[:start] + user + s[at:]
		rest = start + len(user) + 1
	}
	q := strings.IndexByte(s[rest:], '?')
	if q < 0 {
		return s
	}
	q += rest + 1
	end := len(s)
	if f := strings.IndexByte(s[q:], '#'); f >= 0 {
		end = q + f
	}
	return s[:q] + maskQuery(s[q:end]) + s[end:]
}

// maskedUser is the user name to keep of userinfo, the raw text between
// the // and the last @ of s: only when s is a well-formed URL whose user
// info that is, and it holds a password.
func maskedUser(s, userinfo string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.User == nil || strayAt(s) {
		return "", false
	}
	if _, ok := u.User.Password(); !ok {
		return "", false
	}
	name, _, _ := strings.Cut(userinfo, ":")
	return name, true
}

// maskQuery hides the values of the password-like options of a raw query.
func maskQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && secretOption(k) {
			parts[i] = k + "=xxxxx"
		}
	}
	return strings.Join(parts, "&")
}

// secretOption tells whether a query option's value is a credential.
func secretOption(key string) bool {
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	key = strings.ToLower(key)
	for _, w := range []string{"pass", "secret", "token", "auth"} {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}

// strayAt tells whether s has an @ after its host: in a Redis URL, the
// sign of a password whose / ? or # was not percent-encoded.
func strayAt(s string) bool {
	rest := s
	if i := strings.Index(s, "//"); i >= 0 {
		rest = s[i+2:]
	}
	end := strings.IndexAny(rest, "/?#")
	return end >= 0 && strings.Contains(rest[end:], "@")
}

// Secrets lists the credentials a Redis URL holds (its password and the
// values of password-like options, as written and decoded), for whoever
// must redact them. A value without :// is all secret (see Mask).
func Secrets(s string) []string {
	if !strings.Contains(s, "://") {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok && p != "" {
		out = append(out, p)
	}
	// Read pair by pair: u.Query() drops a value it cannot decode.
	for _, p := range strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(p, "=")
		if !secretOption(k) || v == "" {
			continue
		}
		out = append(out, v)
		if d, err := url.QueryUnescape(v); err == nil && d != v && d != "" {
			out = append(out, d)
		}
	}
	return out
}
