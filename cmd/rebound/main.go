// Command rebound runs agent workflows that recover from failures, shows what recovered, and
// lets a person resolve what could not. See docs/cli.md, or run `rebound --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], env{
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		terminal:   isTerminal(os.Stdout),
		invocation: invocation(),
	})
	stop()
	os.Exit(code)
}
