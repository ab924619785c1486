package store_test

import (
	"testing"

	"dialhook/store"
)

func TestParseRedisURL(t *testing.T) {
	cases := []struct {
		url, master string
		addrs       []string
		db          int
		user, pass  string
		tls         bool
	}{
		{url: "redis://127.0.0.1:6379/0", addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://localhost/3", addrs: []string{"localhost:6379"}, db: 3},
		{url: "rediss://u:p%40ss@redis.example:6380/1", addrs: []string{"redis.example:6380"}, db: 1, user: "u", pass: "p@ss", tls: true},
		{url: "redis://h1:7000,h2:7001,h3:7002", addrs: []string{"h1:7000", "h2:7001", "h3:7002"}},
		{url: "redis://:pw@s1:26379,s2:26379/2?master=mymaster", addrs: []string{"s1:26379", "s2:26379"}, db: 2, pass: "pw", master: "mymaster"},
	}
	for _, c := range cases {
		o, err := store.ParseRedisURL(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if len(o.Addrs) != len(c.addrs) || o.DB != c.db || o.Username != c.user || o.Password != c.pass || o.MasterName != c.master || (o.TLSConfig != nil) != c.tls {
			t.Errorf("%s: got %+v", c.url, o)
			continue
		}
		for i := range c.addrs {
			if o.Addrs[i] != c.addrs[i] {
				t.Errorf("%s: addrs %v, want %v", c.url, o.Addrs, c.addrs)
			}
		}
	}
	for _, bad := range []string{"http://h:6379", "redis:///0", "redis://h:6379/x", "redis://h:6379/0?pool=3", "redis://h1:1,h2:2/4"} {
		if _, err := store.ParseRedisURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
