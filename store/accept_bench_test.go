package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"dialhook/internal/testredis"
	"dialhook/store"
)

// redisCPU is the Redis server's CPU time so far (INFO cpu).
func redisCPU(b *testing.B, c *redis.Client) time.Duration {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkAcceptConsole accepts events on a Redis of its own with and
// without what the console keeps (the search index and the request), and
// reports Redis' CPU per accepted event: what the console costs Redis.
func BenchmarkAcceptConsole(b *testing.B) {
	for _, tc := range []struct{ index, request bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		index, console := tc.index, tc.request
		b.Run(fmt.Sprintf("index=%v,request=%v", index, console), func(b *testing.B) {
			srv := testredis.Start(b, "")
			s, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{Retention: time.Hour, QueueMax: 1 << 30,
				Namespace: testredis.Namespace(b), SearchIndex: index})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
			b.Cleanup(func() { admin.Close() })
			req := &store.Request{Method: "POST", Path: "/webhooks/generic", Headers: map[string]string{"Content-Type": "application/json",
				"User-Agent": "bench/1.0", "Accept": "*/*", "Content-Length": "180"}, Size: 180,
				Body: `{"event_id":"evt-1","callerid":"59821234567","agent":"1001","phone":"1001","context":"agentes","outqueue":"Ventas->","destination":"59899123456"}`}
			n := 0
			cpu0 := redisCPU(b, admin)
			for b.Loop() {
				n++
				e := newEvent(fmt.Sprint("a", n%50))
				e.RecordID, e.DedupKey = fmt.Sprint("rec-", n), fmt.Sprint("k-", n)
				if console {
					e.Request = req
				}
				sb := sub(e, "generic:"+e.DedupKey)
				sb.Event.ID = s.NewEventID(sb.DedupKey)
				if _, err := s.Accept(context.Background(), []store.Submission{sb}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((redisCPU(b, admin)-cpu0).Microseconds())/float64(n), "redis-µs/op")
			if testing.Verbose() {
				info, _ := admin.Info(context.Background(), "commandstats").Result()
				b.Log(info)
			}
		})
	}
}
