package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// fakeUContact answers AgentCall with a fresh GUID after a configurable
// latency. While gated, calls wait until the gate opens.
type fakeUContact struct {
	srv      *http.Server
	addr     string
	latency  atomic.Int64 // nanoseconds
	calls    atomic.Int64 // answered
	inflight atomic.Int64
	mu       sync.Mutex
	gate     chan struct{} // nil: open
}

const agentCallPath = "/Integra/resources/Agents/AgentCall"

func startFake() (*fakeUContact, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeUContact{addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentCallPath, f.agentCall)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *fakeUContact) agentCall(w http.ResponseWriter, r *http.Request) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("destination") == "" || r.PostForm.Get("agent") == "" {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if d := time.Duration(f.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	f.calls.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(uuid.NewString()))
}

func (f *fakeUContact) setLatency(d time.Duration) { f.latency.Store(int64(d)) }

// close holds every new call until open.
func (f *fakeUContact) close() {
	f.mu.Lock()
	if f.gate == nil {
		f.gate = make(chan struct{})
	}
	f.mu.Unlock()
}

func (f *fakeUContact) open() {
	f.mu.Lock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
	f.mu.Unlock()
}

// dropIdle closes the idle keep-alive connections dialhook holds to the
// fake (so that their goroutines in dialhook end), then allows keep-alive
// again.
func (f *fakeUContact) dropIdle() {
	f.srv.SetKeepAlivesEnabled(false)
	time.Sleep(50 * time.Millisecond)
	f.srv.SetKeepAlivesEnabled(true)
}

func (f *fakeUContact) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f.open()
	_ = f.srv.Shutdown(ctx)
}
