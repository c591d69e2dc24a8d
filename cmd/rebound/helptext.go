package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// exitMeaning is what each exit code means (docs/cli.md, "Common flags and exit codes"), the one
// text every command's --help lists its codes from.
var exitMeaning = map[int]string{
	exitCompleted:   "done",
	exitFailed:      "failed (the run failed, or a store error)",
	exitUsage:       "usage or configuration error (a bad flag or argument, a store that cannot be opened, an unknown run or escalation; also a run held by another live worker)",
	exitEscalated:   "escalated: the run waits for a person",
	exitInterrupted: "interrupted (Ctrl-C, SIGTERM): the run is canceled, and 'rebound runs resume' goes on",
}

// runCodes are the exit codes of a command that runs a workflow; otherCodes those of the rest.
var (
	runCodes   = []int{exitCompleted, exitFailed, exitUsage, exitEscalated, exitInterrupted}
	otherCodes = []int{exitCompleted, exitFailed, exitUsage}
)

// exitCodesHelp is the "Exit codes:" paragraph of a command's --help.
func exitCodesHelp(codes []int) string {
	var b strings.Builder
	b.WriteString("Exit codes:")
	for _, c := range codes {
		fmt.Fprintf(&b, "\n  %3d  %s", c, exitMeaning[c])
	}
	return b.String()
}

// workflowCommands are the commands that run a workflow (their exit codes include 3 and 130).
var workflowCommands = map[string]bool{"rebound": true, "rebound demo": true, "rebound demo agent": true, "rebound runs resume": true}

// addExitCodes appends the exit codes to the --help of every runnable command below root that
// does not list its own (a command whose codes mean something else says so itself).
func addExitCodes(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if (c.Runnable() || c == root) && !strings.Contains(c.Long, "Exit codes:") {
			codes := otherCodes
			if workflowCommands[c.CommandPath()] {
				codes = runCodes
			}
			long := c.Long
			if long == "" {
				long = c.Short + "."
			}
			c.Long = long + "\n\n" + exitCodesHelp(codes)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
