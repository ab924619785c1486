package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
	"dialhook/store"
)

// On a Redis Cluster the shards spread an event's keys over every master:
// the keyspace is not one slot on one node.
func TestClusterKeysOnEveryMaster(t *testing.T) {
	url := testredis.ClusterURL(t)
	ns := testredis.Namespace(t)
	s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range 200 {
		accept1(t, s, sub(newEvent(fmt.Sprint("agent-", i)), fmt.Sprint("generic:spread-", i)))
	}
	addrs := strings.Split(strings.TrimPrefix(url, "redis://"), ",")
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	ctx := context.Background()
	var mu sync.Mutex
	counts := map[string]int{}
	err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, ns+":*").Result()
		mu.Lock()
		counts[c.Options().Addr] = len(keys)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) < 3 {
		t.Fatalf("%d masters, want 3: %v", len(counts), counts)
	}
	for addr, n := range counts {
		if n == 0 {
			t.Errorf("master %s holds none of the keys: %v", addr, counts)
		}
	}
	t.Logf("keys per master: %v", counts)
}
