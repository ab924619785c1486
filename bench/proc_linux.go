package main

import "syscall"

// childAttr puts a server the harness starts in a process group of its own
// (Ctrl-C in the terminal reaches the harness only, which stops its
// servers), and has the kernel kill it if the harness dies without
// stopping it (kill -9): no dialhook or redis-server is left running.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
