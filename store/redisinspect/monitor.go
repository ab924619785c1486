package redisinspect

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Monitor follows MONITOR on a connection of its own to each server the
// inspector reads (every master of a Cluster) and counts the commands run
// on the inspector's database, split into the ones clients sent (round
// trips, or pipelined commands) and the ones scripts ran, leaving out the
// commands of some client addresses (the caller's own).
type Monitor struct {
	conns   []net.Conn
	mu      sync.Mutex
	top     Counts
	lua     Counts
	exclude map[string]bool
	readers sync.WaitGroup
}

// Monitor starts MONITOR on every server read, leaving out the commands of
// the connections at the exclude addresses (see ClientAddrs). Stop it with
// Stop. MONITOR over TLS is not supported.
func (in *Inspector) Monitor(exclude []string) (*Monitor, error) {
	m := &Monitor{top: Counts{}, lua: Counts{}, exclude: map[string]bool{}}
	for _, a := range exclude {
		m.exclude[a] = true
	}
	for _, n := range in.nodes {
		if err := m.follow(n.opt); err != nil {
			m.Stop()
			return nil, err
		}
	}
	return m, nil
}

// follow starts MONITOR on one server.
func (m *Monitor) follow(opt *redis.Options) error {
	if opt.TLSConfig != nil {
		return errors.New("redisinspect: MONITOR over TLS is not supported")
	}
	conn, err := net.DialTimeout("tcp", opt.Addr, 3*time.Second)
	if err != nil {
		return fmt.Errorf("redisinspect: MONITOR %s: %w", opt.Addr, err)
	}
	r := bufio.NewReaderSize(conn, 1<<20)
	if err := startMonitor(opt, conn, r); err != nil {
		conn.Close()
		return fmt.Errorf("redisinspect: MONITOR %s: %w", opt.Addr, err)
	}
	m.conns = append(m.conns, conn)
	m.readers.Add(1)
	go m.read(r, strconv.Itoa(opt.DB))
	return nil
}

// startMonitor authenticates (when the URL has a password) and sends
// MONITOR, in plain RESP: go-redis has no use for a connection that
// streams replies forever.
func startMonitor(opt *redis.Options, conn net.Conn, r *bufio.Reader) error {
	send := func(args ...string) error {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			return err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "+") {
			return fmt.Errorf("redis: %s", strings.TrimSpace(line))
		}
		return nil
	}
	if opt.Password != "" {
		args := []string{"AUTH", opt.Password}
		if opt.Username != "" {
			args = []string{"AUTH", opt.Username, opt.Password}
		}
		if err := send(args...); err != nil {
			return err
		}
	}
	return send("MONITOR")
}

// read parses lines such as
//
//	+1795611014.032530 [15 127.0.0.1:49074] "evalsha" "…" "0"
//	+1795611014.032606 [15 lua] "SET" "k" "1"
func (m *Monitor) read(r *bufio.Reader, db string) {
	defer m.readers.Done()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		i := strings.IndexByte(line, '[')
		j := strings.IndexByte(line, ']')
		if i < 0 || j < i {
			continue
		}
		where, who, _ := strings.Cut(line[i+1:j], " ")
		if where != db || m.exclude[who] {
			continue
		}
		rest := line[j+1:]
		k := strings.IndexByte(rest, '"')
		if k < 0 {
			continue
		}
		rest = rest[k+1:]
		l := strings.IndexByte(rest, '"')
		if l < 0 {
			continue
		}
		name := strings.ToLower(rest[:l])
		m.mu.Lock()
		if who == "lua" {
			m.lua[name]++
		} else {
			m.top[name]++
		}
		m.mu.Unlock()
	}
}

// Take returns the counts since the last Take (or the start) and starts
// over.
func (m *Monitor) Take() (top, lua Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	top, lua = m.top, m.lua
	m.top, m.lua = Counts{}, Counts{}
	return top, lua
}

// Stop closes MONITOR's connections and waits for their readers to end.
func (m *Monitor) Stop() {
	for _, c := range m.conns {
		_ = c.Close()
	}
	m.readers.Wait()
}
