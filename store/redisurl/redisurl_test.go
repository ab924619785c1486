package redisurl

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		url        string
		mode       Mode
		addrs      []string
		db         int
		user, pass string
		master     string
		tls        bool
		pool       int
	}{
		{url: "redis://127.0.0.1:6379/0", mode: Single, addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://localhost/3", mode: Single, addrs: []string{"localhost:6379"}, db: 3},
		{url: "rediss://u:p%40ss@redis.example:6380/1", mode: Single, addrs: []string{"redis.example:6380"}, db: 1, user: "u", pass: "p@ss", tls: true},
		{url: "redis://h:6379/0?pool_size=7", mode: Single, addrs: []string{"h:6379"}, pool: 7},
		{url: "redis://h1:7000,h2:7001,h3:7002", mode: Cluster, addrs: []string{"h1:7000", "h2:7001", "h3:7002"}},
		{url: "redis://:pw@seed:7000?cluster=true", mode: Cluster, addrs: []string{"seed:7000"}, pass: "pw"},
		{url: "redis://h1:7000/0?addr=h2:7001", mode: Cluster, addrs: []string{"h1:7000", "h2:7001"}},
		{url: "redis://:pw@s1:26379,s2:26379/2?master=mymaster", mode: Sentinel, addrs: []string{"s1:26379", "s2:26379"}, db: 2, pass: "pw", master: "mymaster"},
		{url: "redis://s1:26379/0?master_name=m", mode: Sentinel, addrs: []string{"s1:26379"}, master: "m"},
	}
	for _, c := range cases {
		u, err := Parse(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		var addrs []string
		var db, pool int
		var user, pass, master string
		var tls bool
		switch u.Mode {
		case Single:
			o := u.Single
			addrs, db, user, pass, tls, pool = []string{o.Addr}, o.DB, o.Username, o.Password, o.TLSConfig != nil, o.PoolSize
		case Cluster:
			o := u.Cluster
			addrs, user, pass, tls, pool = o.Addrs, o.Username, o.Password, o.TLSConfig != nil, o.PoolSize
		case Sentinel:
			o := u.Failover
			addrs, db, user, pass, master, tls = o.SentinelAddrs, o.DB, o.Username, o.Password, o.MasterName, o.TLSConfig != nil
			if o.SentinelPassword != "" {
				t.Errorf("%s: the master's password was given to the Sentinels", c.url)
			}
		}
		if u.Mode != c.mode || strings.Join(addrs, ",") != strings.Join(c.addrs, ",") || db != c.db || user != c.user ||
			pass != c.pass || master != c.master || tls != c.tls || pool != c.pool {
			t.Errorf("%s: got %s %v db %d user %q pass %q master %q tls %v pool %d", c.url, u.Mode, addrs, db, user, pass, master, tls, pool)
		}
	}
	for _, bad := range []string{"http://h:6379", "redis:///0", "redis://h:6379/x", "redis://h:6379/0?pool=3", "redis://h1:1,h2:2/4",
		"redis://:s3cretpw@[::1:6379/0"} {
		_, err := Parse(bad)
		if err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("%s: error shows the password: %v", bad, err)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@h:6379/0":    "redis://:xxxxx@h:6379/0",
		"redis://u:s3cret@h1:1,h2:2":  "redis://u:xxxxx@h1:1,h2:2",
		"redis://h:6379/0":            "redis://h:6379/0",
		"redis://:s3cret@[::1:6379/0": "redis://xxxxx@[::1:6379/0",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}
