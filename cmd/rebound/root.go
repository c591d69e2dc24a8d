package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// env is what a command may touch of the outside world. Tests build one with buffers.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// terminal is true when stdout is a terminal: runs then get the live view.
	terminal bool
	// invocation is how the user ran this command ("rebound", or "go run ./cmd/rebound"), for
	// the commands the summaries print. Empty: "rebound".
	invocation string
	// now is the clock for what the CLI judges by time (a run's lease). Nil: time.Now.
	now func() time.Time
}

// self is how to run rebound again, as the user did.
func (e env) self() string {
	if e.invocation == "" {
		return "rebound"
	}
	return e.invocation
}

// invocation guesses how the user ran this binary: a binary that `go run` built lives in a
// go-build directory, and then, from the repository's root, the same command runs it again.
func invocation() string {
	exe, err := os.Executable()
	if err != nil || !strings.Contains(exe, string(os.PathSeparator)+"go-build") {
		return "rebound"
	}
	if fi, err := os.Stat(filepath.Join("cmd", "rebound", "main.go")); err == nil && !fi.IsDir() {
		return "go run ./cmd/rebound"
	}
	return "rebound"
}

// globals holds the environment and the flags every command shares.
type globals struct {
	env
	store    string
	storeSet bool
	json     bool
	// ran is set once a command's own function starts: errors before that are usage errors
	// (unknown command, bad flag, wrong number of arguments).
	ran bool
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// execute runs the command line args and returns the exit code. It never writes to os.Stdout
// or os.Stderr itself: everything goes to e's writers.
func execute(ctx context.Context, args []string, e env) int {
	if e.getenv == nil {
		e.getenv = func(string) string { return "" }
	}
	if e.now == nil {
		e.now = time.Now
	}
	// Nothing printed may drive the terminal (termsafe.go).
	e.stdout, e.stderr = newTermWriter(e.stdout), newTermWriter(e.stderr)
	g := &globals{env: e}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetContext(ctx)
	err := root.ExecuteContext(ctx)
	if err != nil && !g.ran {
		err = asUsage(err)
	}
	var u *usageError
	if err != nil && ctx.Err() != nil && !errors.As(err, &u) {
		// The command failed because a signal ended its context (main's NotifyContext): that
		// is an interruption, not a failure; a run it ran is canceled and resumable.
		err = &interruptedError{err}
	}
	var silent *silentError
	if err != nil && !errors.As(err, &silent) {
		fmt.Fprintf(e.stderr, "rebound: %v\n", err)
		if !g.ran {
			fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", strings.TrimSpace("rebound "+commandPath(root, args)))
		}
	}
	return exitCode(err)
}

// commandPath is the subcommand the arguments name, for the "see --help" hint.
func commandPath(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil || c == nil || c == root {
		return ""
	}
	return strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
}

// cmdFunc is the shape of every command: a context, its arguments and where its output goes.
type cmdFunc func(ctx context.Context, args []string, w io.Writer) error

// runE adapts a cmdFunc to cobra. Output goes to stdout; with --json, human output of a
// command that prints JSON goes to stderr (each command decides).
func (g *globals) runE(fn cmdFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		g.ran = true
		g.storeSet = cmd.Flags().Changed("store")
		return fn(cmd.Context(), args, g.stdout)
	}
}

// human is where progress and messages for people go: stdout, or stderr under --json.
func (g *globals) human() io.Writer {
	if g.json {
		return g.stderr
	}
	return g.stdout
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "rebound",
		Short: "Run agent workflows that recover, and resolve what could not",
		Long: `rebound runs agent workflows that survive rate limits, overloaded models, malformed answers,
hung calls and crashes, shows what recovered and how, and parks what could not be recovered in an
escalation queue for a person to resolve.`,
		Example: `  rebound demo
  rebound escalations list
  rebound escalations resolve ESC_ID --action approve --by alice
  rebound runs resume RUN_ID`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&g.store, "store", defaultStore,
		"where runs and escalations are kept: sqlite:PATH, postgres://…, or memory: (env REBOUND_STORE)")
	root.PersistentFlags().BoolVar(&g.json, "json", false,
		"machine-readable output on stdout (runs: one JSON event per line); human output goes to stderr")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newDemoCmd(g), newRunsCmd(g), newEscalationsCmd(g), newFakeLLMCmd(g), newServeCmd(g), newSuperviseCmd(g), newGatewayCmd(g))
	addExitCodes(root)
	return root
}

// noArgs and exactArgs are cobra argument checks with messages that name what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == len(names) {
			for i, a := range args {
				if strings.TrimSpace(a) == "" {
					return usagef("empty %s", names[i])
				}
			}
			return nil
		}
		if len(args) < len(names) {
			return usagef("missing %s", strings.Join(names[len(args):], " "))
		}
		return usagef("unexpected argument %q", args[len(names)])
	}
}
