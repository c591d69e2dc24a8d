//go:build unix

package agenttest

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

const canKill = true

// die kills this process with SIGKILL: no deferred function, no flush, no goodbye.
func die() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// killedBySIGKILL reports whether err says a child process died of SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
