//go:build !linux

package devstacktest

import "syscall"

// sysProcAttr returns nil: Pdeathsig is Linux-only; elsewhere aind-devstack
// still stops when the test process exits because its stdin pipe closes.
func sysProcAttr() *syscall.SysProcAttr { return nil }
