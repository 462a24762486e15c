package main

import (
	"errors"
	"syscall"
)

// childSysProcAttr puts the child in its own process group (so a terminal's
// Ctrl-C reaches only aind-devstack, which then stops it in order) and makes
// the kernel SIGKILL it if aind-devstack dies first.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// xattrSupported reports whether dir's filesystem accepts user xattrs (which
// the versitygw posix backend uses for object metadata).
func xattrSupported(dir string) bool {
	const probe = "user.aind-devstack-probe"
	err := syscall.Setxattr(dir, probe, []byte("1"), 0)
	if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
		return false
	}
	if err == nil {
		_ = syscall.Removexattr(dir, probe)
	}
	return true
}

// processAlive reports whether pid is a running process (signal 0 reaches it).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
