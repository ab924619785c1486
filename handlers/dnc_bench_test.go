package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"dialhook/handlers"
	"dialhook/mapping"
	"dialhook/metrics"
	"dialhook/store"
)

// countingDNC is the in-memory store whose do-not-call list only counts
// what is added: the benchmark measures the import, not a list of a
// million numbers held in this process.
type countingDNC struct {
	*store.Memory
	added atomic.Int64
}

func (c *countingDNC) DNCAdd(_ context.Context, entries []store.DNCEntry) error {
	c.added.Add(int64(len(entries)))
	return nil
}

// numbers streams n CSV lines of distinct Uruguayan mobiles.
func numbers(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		w := pw
		_, _ = io.WriteString(w, "number\n")
		for i := range n {
			_, _ = fmt.Fprintf(w, "+598 9%d %06d\n", 1+i/1_000_000%9, i%1_000_000)
		}
		_ = w.Close()
	}()
	return pr
}

// rssMiB reads this process's resident set (Linux; 0 elsewhere).
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkDNCImport imports a million numbers through POST /dnc/import,
// streamed: the process's RSS stays far under 64 MiB (reported as
// peak-RSS-MiB, and the heap as peak-heap-MiB).
func BenchmarkDNCImport(b *testing.B) {
	const n = 1_000_000
	st := &countingDNC{Memory: store.NewMemory(store.MemoryOptions{})}
	srv := handlers.New(handlers.Options{Log: zap.NewNop(), Store: st, Metrics: metrics.New(nil),
		NormalizeNumber: func(raw string) (string, error) {
			num, _, err := mapping.NormalizePhone(raw, "", mapping.PhoneOptions{DefaultRegion: "UY"})
			return num, err
		}})
	runtime.GC()
	var peakRSS, peakHeap atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			if r := uint64(rssMiB() * (1 << 20)); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/dnc/import", numbers(n))
		req.RemoteAddr = "127.0.0.1:1"
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"imported":`+strconv.Itoa(n)) {
			b.Fatalf("import: %d %s", rec.Code, rec.Body)
		}
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peakRSS.Load())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(peakHeap.Load())/(1<<20), "peak-heap-MiB")
	if rss := float64(peakRSS.Load()) / (1 << 20); rss > 64 {
		b.Errorf("peak RSS %.1f MiB during an import of %d numbers, want ≤ 64 MiB", rss, n)
	}
}
