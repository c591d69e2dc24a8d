//go:build !unix

package sigkill

import "os"

// Supported is false: this system has no SIGKILL, and the crash tests skip.
const Supported = false

// Self ends this process at once with the status a SIGKILL would give.
func Self() { os.Exit(137) }

// Killed is always false where there is no SIGKILL.
func Killed(error) bool { return false }
