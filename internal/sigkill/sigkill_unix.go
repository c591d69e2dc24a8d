//go:build unix

package sigkill

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Supported is true where a process can be killed with SIGKILL.
const Supported = true

// Self kills this process with SIGKILL: no deferred function, no flush, no goodbye.
func Self() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// Killed reports whether err says a child process died of SIGKILL.
func Killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
