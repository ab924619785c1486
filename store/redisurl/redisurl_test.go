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
		{url: "redis://s1:26379/0?master=m&password=qpw", mode: Sentinel, addrs: []string{"s1:26379"}, pass: "qpw", master: "m"},
		{url: "redis://:upw@s1:26379/0?master=m&password=qpw", mode: Sentinel, addrs: []string{"s1:26379"}, pass: "upw", master: "m"},
		{url: "redis://s1:26379/0?master=m&password=p%25w%2Bx%23y", mode: Sentinel, addrs: []string{"s1:26379"}, pass: "p%w+x#y", master: "m"},
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
		"redis://:s3cretpw@[::1:6379/0",
		// A password's unescaped / ? # or %: url.Parse quotes what it
		// took for a port, a path or an escape.
		"redis://default:ab+s3cretpw/xyz==@host:6379", "redis://default:ab#s3cretpw@host:6379",
		"redis://default:ab?s3cretpw@host:6379", "redis://u:12/s3cretpw@host", "redis://u:12#s3cretpw@host",
		"redis://u:s3cretpw%zz@host", "redis://u:1/s3cretpw/x@host/0",
		// Scheme typos.
		"rediss//:s3cretpw@x", "redis:/:s3cretpw@h", "redis::s3cretpw@h",
		// go-redis quotes an option's value, or a name that is a piece
		// of a password.
		"redis://h:6379/0?pool_size=s3cretpw", "redis://h:6379/s3cretpw", "redis://s:1/0?master=m&dial_timeout=s3cretpw",
		"redis://h:6379/0?s3cretpw",
		// A query url.ParseQuery refuses (u.Query() would drop the pair
		// and the password with it), or a # that cuts a value short.
		"redis://127.0.0.1:7641/0?password=s3cretpw%zz", "redis://s:1/0?master=m&password=ab;s3cretpw",
		"redis://s:1/0?master=m&password=ab#s3cretpw", "redis://:ab@h:1/0#s3cretpw",
		// A password in the wrong variable.
		"s3cretpw", "Zq9Xk7s3cretpw"} {
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
		// Everything up to the last @ when the URL does not parse, or
		// parses with the password's tail taken for a path or a query.
		"redis://default:ab+s3cret/xyz==@host:6379": "redis://xxxxx@host:6379",
		"redis://u:12/s3cret@host/0":                "redis://xxxxx@host/0",
		"redis://u:12?s3cret@host":                  "redis://xxxxx@host",
		"redis://u:ab#s3cret@host":                  "redis://xxxxx@host",
		"redis://s3cret@host":                       "redis://xxxxx@host",
		// No :// at all: no URL, maybe a password; hidden whole.
		"rediss//:s3cret@x": "xxxxx",
		"redis:/:s3cret@h":  "xxxxx",
		"redis::s3cret@h":   "xxxxx",
		"Zq9Xk7s3cret":      "xxxxx",
		// Password-like options.
		"redis://s1:26379/0?master=m&password=s3cret":           "redis://s1:26379/0?master=m&password=xxxxx",
		"redis://h/0?sentinel_password=s3cret&pool_size=3":      "redis://h/0?sentinel_password=xxxxx&pool_size=3",
		"redis://u:s3cret@h:1/0?Password=s3cret#x":              "redis://u:xxxxx@h:1/0?Password=xxxxx#x",
		"redis:/h?password=s3cret":                              "xxxxx",
		"redis://h/0?master=m&password=s3cret%zz":               "redis://h/0?master=m&password=xxxxx",
		"redis://u:p/s3cret@h?sentinel_password=s3cret&db=1":    "redis://xxxxx@h?sentinel_password=xxxxx&db=1",
		"redis://h:6379/0?client_name=api&master_name=mymaster": "redis://h:6379/0?client_name=api&master_name=mymaster",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// The errors that cannot show where the URL is wrong say how to fix it.
func TestParseErrorsSayWhatToDo(t *testing.T) {
	for in, want := range map[string]string{
		"Zq9Xk7SECRET": "redis url: must start with redis:// or rediss:// (the value is not shown: it may be a password)",
		"redis://127.0.0.1:7641/0?password=SECRET%zz": "the URL's query cannot be read: percent-encode",
		"redis://s:1/0?master=m&password=ab#SECRET":   "the URL's query cannot be read: percent-encode",
		"redis://:ab#SECRET@h:1/0":                    "cannot be parsed; percent-encode",
		"redis://h:6379/0?SECRET9":                    "unexpected option (its name is not shown",
		"redis://h:6379/0?wrte_timout=1s":             "unexpected option: wrte_timout",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want %q", in, err, want)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Parse(%q) shows the secret: %v", in, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	got := Secrets("redis://u:p%40ss@h:1/0?master=m&password=mpw&pool_size=3")
	if strings.Join(got, ",") != "p@ss,mpw" {
		t.Fatalf("Secrets = %q", got)
	}
	if got := Secrets("redis://h:1/0"); len(got) != 0 {
		t.Fatalf("Secrets of a URL without any = %q", got)
	}
	// A value its query parser would drop, written and decoded.
	if got := Secrets("redis://h:1/0?master=m&password=s3cret%zz&sentinel_password=a%25b"); strings.Join(got, ",") != "s3cret%zz,a%25b,a%b" {
		t.Fatalf("Secrets of badly encoded options = %q", got)
	}
	// No URL at all: all of it may be a password.
	if got := Secrets("Zq9Xk7s3cret"); strings.Join(got, ",") != "Zq9Xk7s3cret" {
		t.Fatalf("Secrets of a value without a scheme = %q", got)
	}
}
