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
