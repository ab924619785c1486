package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"dialhook/store/redisinspect"
)

// The private Redis of the stores step: a master and one replica, started
// from redis-server on PATH on loopback ports, in the run's temporary
// directory, without persistence. They are stopped when the harness ends,
// on an error or Ctrl-C too (cleanup), and killed by the kernel if the
// harness is killed (childAttr).

// startPair starts the master and its replica and waits until the replica
// is in sync. It returns the master's URL, or, when redis-server is not on
// PATH, why the pair is skipped.
func (x *h) startPair() (url, skipped string, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", "skipped: redis-server is not on PATH (durability local vs replicated needs a private master and replica)", nil
	}
	master, _, err := x.startRedis(bin, "redis-master")
	if err != nil {
		return "", "", err
	}
	host, port, _ := net.SplitHostPort(master)
	if _, x.replica, err = x.startRedis(bin, "redis-replica", "--replicaof", host, port); err != nil {
		return "", "", err
	}
	if err := waitReplica(master, 15*time.Second); err != nil {
		return "", "", err
	}
	x.logf("private Redis: master %s with one replica", master)
	return "redis://" + master + "/0", "", nil
}

// startRedis starts one redis-server on a free loopback port, with its
// files and log in a directory of the run's, and waits until it answers.
func (x *h) startRedis(bin, name string, extra ...string) (string, *proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	dir := filepath.Join(x.tmp, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	log, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return "", nil, err
	}
	x.atExit(func() { log.Close() })
	args := append([]string{"--bind", host, "--port", port, "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}, extra...)
	p, err := startProc(name, bin, args, cleanEnv(), log, addr)
	if err != nil {
		return "", nil, err
	}
	x.atExit(func() { p.stop(5 * time.Second) })
	if err := waitRedis(p, addr, 10*time.Second); err != nil {
		return "", nil, fmt.Errorf("%w (log: %s)", err, tail(log.Name()))
	}
	return addr, p, nil
}

// waitRedis polls the server until it answers.
func waitRedis(p *proc, addr string, timeout time.Duration) error {
	ins, err := redisinspect.Open(context.Background(), "redis://"+addr+"/0", harnessClient)
	if err != nil {
		return err
	}
	defer ins.Close()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := ins.Version(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s on %s does not answer: %w", p.name, addr, err)
		}
	}
}

// waitReplica waits until the master at addr has a replica online.
func waitReplica(addr string, timeout time.Duration) error {
	ins, err := redisinspect.Open(context.Background(), "redis://"+addr+"/0", harnessClient)
	if err != nil {
		return err
	}
	defer ins.Close()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		n, err := ins.Replicas(context.Background())
		if err == nil && n >= 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the private Redis master %s has no replica online after %s: %v", addr, timeout, err)
		}
	}
}
