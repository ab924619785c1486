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
// Errors never repeat the URL: it may hold a password.
func Parse(raw string) (*URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return nil, fmt.Errorf("redis url: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis url: scheme %q: use redis:// or rediss://", u.Scheme)
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
	q := u.Query()
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
// password to the Sentinels; dialhook's URL names the master's (Sentinels
// usually have none), as it always has.
func failover(u *url.URL) (*URL, error) {
	o, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, clean(err)
	}
	o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
	o.SentinelUsername, o.SentinelPassword = "", ""
	return &URL{Mode: Sentinel, Failover: o}, nil
}

// clean drops go-redis' "redis: " prefix, whose errors name options, never
// the password.
func clean(err error) error {
	return fmt.Errorf("redis url: %s", strings.TrimPrefix(err.Error(), "redis: "))
}

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

// userinfo is the user[:password]@ part of a URL that url.Parse refuses.
var userinfo = regexp.MustCompile(`//[^/@]*@`)

// Mask hides the password of a URL such as redis://:secret@host:6379/0,
// even one url.Parse cannot read (then all of its user info is hidden).
func Mask(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return userinfo.ReplaceAllString(s, "//xxxxx@")
	}
	if u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
