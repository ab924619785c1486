package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// target is one server under load: dialhook or the bare Echo server.
type target struct {
	name string
	base string // http://host:port
	host string
	tr   *http.Transport
	hc   *http.Client
}

func newTarget(name, addr string) *target {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no limit
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &target{name: name, base: "http://" + addr, host: addr, tr: tr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// ids hands out unique event numbers for the whole run.
var ids atomic.Uint64

// result is what one load run saw.
type result struct {
	sent, ok, failed int64
	elapsed          time.Duration
	lat              []time.Duration // of the 2xx answers
	statuses         map[int]int64
}

func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// pct is the nearest-rank percentile p (0..100) of the latencies, in ms.
func (r *result) pct(p float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.lat))+0.999999) - 1
	i = min(max(i, 0), len(r.lat)-1)
	return float64(r.lat[i]) / float64(time.Millisecond)
}

type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	statuses map[int]int64
	sent, ok atomic.Int64
	failed   atomic.Int64
}

func newRecorder() *recorder { return &recorder{statuses: map[int]int64{}} }

func (rc *recorder) add(lat []time.Duration, st map[int]int64) {
	rc.mu.Lock()
	rc.lat = append(rc.lat, lat...)
	for k, v := range st {
		rc.statuses[k] += v
	}
	rc.mu.Unlock()
}

func (rc *recorder) result(elapsed time.Duration) *result {
	sort.Slice(rc.lat, func(i, j int) bool { return rc.lat[i] < rc.lat[j] })
	return &result{sent: rc.sent.Load(), ok: rc.ok.Load(), failed: rc.failed.Load(), elapsed: elapsed, lat: rc.lat, statuses: rc.statuses}
}

// do sends event n to t and reports the status (0 on a transport error)
// and the latency from just before the request was written.
func do(t *target, src *source, n uint64) (int, time.Duration) {
	req, err := src.request(t.base, t.host, n)
	if err != nil {
		return 0, 0
	}
	start := time.Now()
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// closedLoop runs workers that each send the next unique event as soon as
// the previous one is answered, for d.
func closedLoop(t *target, src *source, workers int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return drive(t, src, workers, func() bool { return ctx.Err() == nil })
}

// count sends exactly n events with the given concurrency.
func count(t *target, src *source, workers, n int) *result {
	var left atomic.Int64
	left.Store(int64(n))
	return drive(t, src, workers, func() bool { return left.Add(-1) >= 0 })
}

// drive runs workers that each send the next unique event as soon as the
// previous one is answered, while more says so.
func drive(t *target, src *source, workers int, more func() bool) *result {
	rc := newRecorder()
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			st := map[int]int64{}
			for more() {
				rc.sent.Add(1)
				code, l := do(t, src, ids.Add(1))
				st[code]++
				if code >= 200 && code < 300 {
					rc.ok.Add(1)
					lat = append(lat, l)
				} else {
					rc.failed.Add(1)
				}
			}
			rc.add(lat, st)
		}()
	}
	wg.Wait()
	return rc.result(time.Since(start))
}

// openLoop sends rate events per second for d, each on its own goroutine at
// its scheduled time whatever the answers (no coordinated omission: a slow
// answer does not delay the next request).
func openLoop(t *target, src *source, rate int, d time.Duration) *result {
	rc := newRecorder()
	total := int(float64(rate) * d.Seconds())
	var wg sync.WaitGroup
	lats := make([]time.Duration, total)
	codes := make([]int, total)
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		rc.sent.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i], lats[i] = do(t, src, ids.Add(1))
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := map[int]int64{}
	ok := make([]time.Duration, 0, total)
	for i, c := range codes {
		st[c]++
		if c >= 200 && c < 300 {
			rc.ok.Add(1)
			ok = append(ok, lats[i])
		} else {
			rc.failed.Add(1)
		}
	}
	rc.add(ok, st)
	return rc.result(elapsed)
}
