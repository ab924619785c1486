package redisinspect_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
	"dialhook/store/redisinspect"
)

// server starts a redis-server of the test's own: FlushDB empties whole
// databases, which the shared test Redis must never see.
func server(t *testing.T) *testredis.Server {
	t.Helper()
	s := testredis.Start(t, "")
	t.Cleanup(s.Stop)
	return s
}

func open(t *testing.T, url, name string) *redisinspect.Inspector {
	t.Helper()
	in, err := redisinspect.Open(context.Background(), url, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func client(t *testing.T, addr string, db int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestFlushDB(t *testing.T) {
	s := server(t)
	ctx := context.Background()
	for i, tc := range []struct {
		name     string
		keys     []string // written before FlushDB
		marked   bool     // a previous FlushDB marked the database
		force    bool
		wantErr  bool
		wantKeys []string // of the keys written, those left after
	}{
		{name: "empty"},
		{name: "marked, with the harness's keys", keys: []string{"dialhook:{dh}:q", "dialhook:{dh}:ev:1"}, marked: true},
		{name: "foreign keys", keys: []string{"app:user:1", "app:user:2"}, wantErr: true, wantKeys: []string{"app:user:1", "app:user:2"}},
		{name: "foreign keys, forced", keys: []string{"app:user:1"}, force: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := i + 1
			in := open(t, "redis://"+s.Addr+"/"+strconv.Itoa(db), "bench-test")
			c := client(t, s.Addr, db)
			if tc.marked {
				if err := in.FlushDB(ctx, false); err != nil {
					t.Fatalf("first FlushDB of an empty database: %v", err)
				}
			}
			for _, k := range tc.keys {
				c.Set(ctx, k, "v", 0)
			}
			// A key in another database is never touched.
			other := client(t, s.Addr, 0)
			other.Set(ctx, "elsewhere", "v", 0)

			err := in.FlushDB(ctx, tc.force)
			if tc.wantErr {
				if !errors.Is(err, redisinspect.ErrForeignKeys) {
					t.Fatalf("FlushDB = %v, want ErrForeignKeys", err)
				}
				if want := "2 keys in database"; !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			} else if err != nil {
				t.Fatalf("FlushDB = %v", err)
			}
			var left []string
			for _, k := range tc.keys {
				if c.Exists(ctx, k).Val() == 1 {
					left = append(left, k)
				}
			}
			if strings.Join(left, ",") != strings.Join(tc.wantKeys, ",") {
				t.Errorf("keys left %v, want %v", left, tc.wantKeys)
			}
			if other.Exists(ctx, "elsewhere").Val() != 1 {
				t.Error("a key of another database was deleted")
			}
			if !tc.wantErr {
				// Marked: the next run flushes without asking.
				c.Set(ctx, "dialhook:{dh}:due", "v", 0)
				if err := in.FlushDB(ctx, false); err != nil {
					t.Errorf("FlushDB of a database the harness marked = %v", err)
				}
			}
		})
	}
}

func TestMonitorAndCommandStats(t *testing.T) {
	s := server(t)
	ctx := context.Background()
	in := open(t, "redis://"+s.Addr+"/3", "bench-test")
	if _, err := in.Version(ctx); err != nil { // opens the named connection
		t.Fatal(err)
	}
	own, err := in.ClientAddrs(ctx, "bench-test")
	if err != nil || len(own) != 1 {
		t.Fatalf("ClientAddrs = %v, %v; want the inspector's one connection", own, err)
	}
	// Connected before MONITOR starts: their set-up (HELLO, SELECT) is not
	// what the test counts.
	c, elsewhere := client(t, s.Addr, 3), client(t, s.Addr, 4)
	c.Ping(ctx)
	elsewhere.Ping(ctx)
	mon, err := in.Monitor(own)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Stop()
	before, err := in.CommandStats(ctx)
	if err != nil {
		t.Fatal(err)
	}

	c.Set(ctx, "k", "1", 0)
	c.Eval(ctx, "redis.call('INCR', KEYS[1]); return redis.call('GET', KEYS[1])", []string{"k"})
	elsewhere.Set(ctx, "k", "1", 0) // another database: not counted by MONITOR

	after, err := in.CommandStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"set", "incr", "get", "eval"} {
		if d := after[cmd] - before[cmd]; d < 1 {
			t.Errorf("commandstats %s grew by %v, want ≥ 1", cmd, d)
		}
	}
	var top, lua redisinspect.Counts
	deadline := time.Now().Add(2 * time.Second)
	for {
		time.Sleep(50 * time.Millisecond)
		tp, lu := mon.Take()
		top, lua = merge(top, tp), merge(lua, lu)
		if top["eval"] == 1 && lua["get"] == 1 || time.Now().After(deadline) {
			break
		}
	}
	wantTop := redisinspect.Counts{"set": 1, "eval": 1}
	wantLua := redisinspect.Counts{"incr": 1, "get": 1}
	if !equal(top, wantTop) || !equal(lua, wantLua) {
		t.Errorf("MONITOR counted sent %v, in scripts %v; want %v, %v (the inspector's own INFO left out)", top, lua, wantTop, wantLua)
	}
}

func merge(a, b redisinspect.Counts) redisinspect.Counts {
	out := redisinspect.Counts{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

func equal(a, b redisinspect.Counts) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestServerFigures(t *testing.T) {
	s := server(t)
	ctx := context.Background()
	in := open(t, s.URL(), "bench-test")
	if v, err := in.Version(ctx); err != nil || v == "" {
		t.Errorf("Version = %q, %v", v, err)
	}
	if cpu, err := in.CPU(ctx); err != nil || cpu <= 0 {
		t.Errorf("CPU = %v, %v; want > 0", cpu, err)
	}
	if n, err := in.Replicas(ctx); err != nil || n != 0 {
		t.Errorf("Replicas = %d, %v; want 0", n, err)
	}
	host, port, _ := strings.Cut(s.Addr, ":")
	testredis.StartArgs(t, "--replicaof", host, port)
	n := 0
	for deadline := time.Now().Add(10 * time.Second); n != 1 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n, _ = in.Replicas(ctx)
	}
	if n != 1 {
		t.Errorf("Replicas = %d with a replica started, want 1", n)
	}
}

// A Sentinel group is refused, and a Cluster that does not answer is an
// error; neither repeats the password.
func TestOpenErrors(t *testing.T) {
	for _, url := range []string{
		"redis://:s3cret@127.0.0.1:1,127.0.0.1:2",
		"redis://:s3cret@127.0.0.1:26379?master=mymaster",
		"http://:s3cret@127.0.0.1:6379",
	} {
		_, err := redisinspect.Open(context.Background(), url, "bench-test")
		if err == nil {
			t.Errorf("Open(%q) = nil, want an error", url)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error %q repeats the password", url, err)
		}
	}
}
