//go:build !linux

package interop

import "syscall"

// childProcAttr puts the broker in its own process group so that a crash
// can SIGKILL it together with any JVMs it started.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
