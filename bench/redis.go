package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// cmdCounts counts Redis commands by lower-case name.
type cmdCounts map[string]float64

func (c cmdCounts) total() float64 {
	var t float64
	for _, v := range c {
		t += v
	}
	return t
}

// minus returns c - o*scale.
func (c cmdCounts) minus(o cmdCounts, scale float64) cmdCounts {
	out := cmdCounts{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range o {
		out[k] -= v * scale
	}
	return out
}

func (c cmdCounts) div(n float64) cmdCounts {
	out := cmdCounts{}
	for k, v := range c {
		out[k] = v / n
	}
	return out
}

// String lists the commands that count for at least 0.05, largest first.
func (c cmdCounts) String() string {
	type kv struct {
		k string
		v float64
	}
	var l []kv
	for k, v := range c {
		if v >= 0.05 {
			l = append(l, kv{k, v})
		}
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].v != l[j].v {
			return l[i].v > l[j].v
		}
		return l[i].k < l[j].k
	})
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%.2f", e.k, e.v)
	}
	return b.String()
}

// connSetup are commands a client sends when it opens a connection; they are
// not part of any request.
var connSetup = map[string]bool{"hello": true, "client": true, "select": true, "auth": true, "ping": true}

// commandStats reads INFO commandstats: calls by command, server-wide,
// commands run inside scripts included.
func commandStats(ctx context.Context, rdb *redis.Client) (cmdCounts, error) {
	s, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := cmdCounts{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, _ := strings.Cut(rest, ":")
		for _, f := range strings.Split(fields, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				out[strings.ToLower(name)] = n
			}
		}
	}
	return out, nil
}

// monitor follows MONITOR on its own connection and counts the commands
// run on one database, split into the ones clients sent (round trips, or
// pipelined commands) and the ones scripts ran, leaving out the commands of
// the given client addresses (the harness's own).
type monitor struct {
	conn    net.Conn
	mu      sync.Mutex
	top     cmdCounts
	lua     cmdCounts
	exclude map[string]bool
	db      string
	done    chan struct{}
}

func startMonitor(opt *redis.Options, exclude []string) (*monitor, error) {
	if opt.TLSConfig != nil {
		return nil, fmt.Errorf("MONITOR over TLS is not supported by the harness")
	}
	conn, err := net.DialTimeout("tcp", opt.Addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(conn, 1<<20)
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
			conn.Close()
			return nil, err
		}
	}
	if err := send("MONITOR"); err != nil {
		conn.Close()
		return nil, err
	}
	m := &monitor{conn: conn, top: cmdCounts{}, lua: cmdCounts{}, exclude: map[string]bool{}, db: strconv.Itoa(opt.DB), done: make(chan struct{})}
	for _, a := range exclude {
		m.exclude[a] = true
	}
	go m.read(r)
	return m, nil
}

// read parses lines such as
//
//	+1795611014.032530 [15 127.0.0.1:49074] "evalsha" "…" "0"
//	+1795611014.032606 [15 lua] "SET" "k" "1"
func (m *monitor) read(r *bufio.Reader) {
	defer close(m.done)
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
		db, who, _ := strings.Cut(line[i+1:j], " ")
		if db != m.db || m.exclude[who] {
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

// take returns the counts since the last take and starts over.
func (m *monitor) take() (top, lua cmdCounts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	top, lua = m.top, m.lua
	m.top, m.lua = cmdCounts{}, cmdCounts{}
	return top, lua
}

func (m *monitor) stop() {
	_ = m.conn.Close()
	<-m.done
}

// clientAddrs lists the addresses of the connections named name.
func clientAddrs(ctx context.Context, rdb *redis.Client, name string) []string {
	s, err := rdb.ClientList(ctx).Result()
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		var addr, n string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "addr="); ok {
				addr = v
			}
			if v, ok := strings.CutPrefix(f, "name="); ok {
				n = v
			}
		}
		if n == name && addr != "" {
			out = append(out, addr)
		}
	}
	return out
}

// redisCPU is the CPU time the Redis server has used (all its threads).
func redisCPU(ctx context.Context, rdb *redis.Client) time.Duration {
	s, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var t float64
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				t += f
			}
		}
	}
	return time.Duration(t * float64(time.Second))
}
