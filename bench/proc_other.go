//go:build !linux

package main

import "syscall"

// childAttr puts a server the harness starts in a process group of its own:
// Ctrl-C in the terminal reaches the harness only, which stops its servers.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
