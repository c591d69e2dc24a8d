//go:build !unix

package agenttest

import "os"

const canKill = false

func die() { os.Exit(137) }

func killedBySIGKILL(err error) bool { return false }
