//go:build linux

package interop

import "syscall"

// childProcAttr puts the broker in its own process group (so a crash can
// SIGKILL it together with any JVMs it started) and asks the kernel to
// SIGTERM it if this test process dies first, so no broker outlives a
// panicking or timed-out test binary.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
