package main

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

func newRedisClient(t *testing.T, u string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return redis.NewClient(opt)
}
