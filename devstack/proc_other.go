//go:build !linux

package main

import "syscall"

// childSysProcAttr puts the child in its own process group. Pdeathsig is
// Linux-only, so elsewhere the child may outlive a SIGKILLed aind-devstack.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// xattrSupported assumes user xattrs work (true on macOS filesystems).
func xattrSupported(string) bool { return true }

// processAlive reports whether pid is a running process (signal 0 reaches it).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
