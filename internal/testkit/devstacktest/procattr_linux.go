package devstacktest

import "syscall"

// sysProcAttr makes the kernel SIGKILL aind-devstack if the test process dies
// (aind-devstack in turn takes versitygw down the same way).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
