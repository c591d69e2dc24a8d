//go:build unix

package checkpoint

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this pid exists on this host (signal 0).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
