package store_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/redis/go-redis/v9"
	"sync"
	"testing"
	"time"

	"dialhook/internal/testredis"
	"dialhook/store"
)

func openRedis(t *testing.T, url, ns string) *store.Redis {
	t.Helper()
	s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{Retention: time.Hour, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Concurrent Accept calls share pipelines; each keeps its own answer, and
// redeliveries racing each other still claim once.
func TestRedisAcceptConcurrent(t *testing.T) {
	s := openRedis(t, testredis.URL(t), testredis.Namespace(t))
	ctx := context.Background()
	const n, copies = 200, 3
	events := make([]*store.Event, n)
	for i := range events {
		events[i] = newEvent(fmt.Sprint("a", i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	news := map[string]string{} // key → accepted id
	dups := 0
	for c := 0; c < copies; c++ {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := *events[i]
				if c > 0 {
					e = *newEvent("x") // a redelivery carries a fresh id
				}
				acc, err := s.Accept(ctx, []store.Submission{sub(&e, fmt.Sprint("generic:c", i))})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if acc[0].Duplicate {
					dups++
					return
				}
				if old, ok := news[fmt.Sprint(i)]; ok {
					t.Errorf("key %d accepted twice: %s and %s", i, old, acc[0].Event.ID)
				}
				news[fmt.Sprint(i)] = acc[0].Event.ID
			}()
		}
	}
	wg.Wait()
	if len(news) != n || dups != n*(copies-1) {
		t.Fatalf("new %d, duplicates %d; want %d, %d", len(news), dups, n, n*(copies-1))
	}
	for _, id := range news {
		if e, err := s.Get(ctx, id); err != nil || e.State != store.Queued {
			t.Fatalf("get %s = %+v %v", id, e, err)
		}
	}
	// A batch of submissions in one call still answers each in order.
	subs := []store.Submission{sub(newEvent("b"), "generic:batch1"), sub(newEvent("b"), "generic:c0"), sub(newEvent("b"), "generic:batch2")}
	acc, err := s.Accept(ctx, subs)
	if err != nil || len(acc) != 3 || acc[0].Duplicate || !acc[1].Duplicate || acc[1].Event.ID != news["0"] || acc[2].Duplicate {
		t.Fatalf("batch = %+v %v", acc, err)
	}
}

// A cancelled caller gets its error without failing the others.
func TestRedisAcceptCancelled(t *testing.T) {
	s := openRedis(t, testredis.URL(t), testredis.Namespace(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Accept(ctx, []store.Submission{sub(newEvent("a"), "generic:x1")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled accept: %v", err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := context.Background()
			if i%2 == 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithCancel(c)
				cancel()
			}
			_, err := s.Accept(c, []store.Submission{sub(newEvent("a"), fmt.Sprint("generic:y", i))})
			if i%2 == 1 && err != nil {
				t.Errorf("accept %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
}

// After Redis loses its scripts, Accept loads them again.
func TestRedisAcceptNoScript(t *testing.T) {
	srv := testredis.Start(t, "")
	s := openRedis(t, "redis://"+srv.Addr+"/0", "noscript")
	ctx := context.Background()
	accept1(t, s, sub(newEvent("a"), "generic:n1"))
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	if err := admin.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Accept(ctx, []store.Submission{sub(newEvent("a"), fmt.Sprint("generic:m", i))}); err != nil {
				t.Errorf("accept after SCRIPT FLUSH: %v", err)
			}
		}()
	}
	wg.Wait()
}

// Close stops the batcher: later calls answer ErrUnavailable.
func TestRedisAcceptAfterClose(t *testing.T) {
	s, err := store.OpenRedis(context.Background(), testredis.URL(t), store.RedisOptions{Namespace: testredis.Namespace(t)})
	if err != nil {
		t.Fatal(err)
	}
	accept1(t, s, sub(newEvent("a"), "generic:z1"))
	s.Close()
	if _, err := s.Accept(context.Background(), []store.Submission{sub(newEvent("a"), "generic:z2")}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("accept after close: %v, want ErrUnavailable", err)
	}
}
