package main

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
)

// The harness empties its Redis database only when it is empty or marked
// by an earlier run, unless --flush; the refusal names the URL without its
// password.
func TestOpenRedisFlushesOnlyItsOwnDatabase(t *testing.T) {
	s := testredis.Start(t, "") // a server of its own: the test flushes
	t.Cleanup(s.Stop)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: s.Addr})
	if err := admin.ConfigSet(ctx, "requirepass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	_ = admin.Close()
	url := "redis://:s3cret@" + s.Addr + "/2"
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: "s3cret", DB: 2})
	t.Cleanup(func() { _ = c.Close() })

	for _, tc := range []struct {
		name    string
		flush   bool
		wantErr []string // "": no error
		keyLeft bool
	}{
		{name: "someone else's key", wantErr: []string{"refusing to flush redis://:xxxxx@" + s.Addr + "/2", "(1 key in database 2)", "pass --flush"}, keyLeft: true},
		{name: "someone else's key, --flush", flush: true},
		{name: "a key in the database the last run marked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Set(ctx, "someone:else", "v", 0)
			x := &h{o: &options{redisURL: url, flush: tc.flush}, logf: t.Logf}
			defer x.cleanup()
			version, err := x.openRedis()
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("openRedis = %v", err)
			case tc.wantErr == nil && version == "":
				t.Error("no Redis version")
			case tc.wantErr != nil && err == nil:
				t.Fatal("openRedis flushed a database holding someone else's key")
			}
			if err != nil {
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q shows the password", err)
				}
			}
			if left := c.Exists(ctx, "someone:else").Val() == 1; left != tc.keyLeft {
				t.Errorf("key left = %v, want %v", left, tc.keyLeft)
			}
		})
	}
}
