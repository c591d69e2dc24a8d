// Package sigkill kills the running process the way a crash does, and tells whether a child
// died that way: the one piece of the crash tests (checkpoint/checkpointtest, agent/agenttest)
// that depends on the operating system.
package sigkill
