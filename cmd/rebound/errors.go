package main

import (
	"errors"
	"fmt"

	"github.com/rebound-go/rebound/checkpoint"
)

// The exit codes of docs/cli.md ("Common flags and exit codes"), a contract that scripts rely on.
const (
	exitCompleted = 0
	exitFailed    = 1
	exitUsage     = 2 // usage or configuration error, or the run is held by another live worker
	exitEscalated = 3
	// exitInterrupted: a signal (Ctrl-C's SIGINT, SIGTERM) stopped the command; a run it was
	// running is canceled, nothing finished is lost, and `runs resume` goes on (128 + SIGINT's 2,
	// as shells report a command Ctrl-C stopped).
	exitInterrupted = 130
)

// interruptedError is a command's error when a signal stopped it (its context ended). Exit code
// 130.
type interruptedError struct{ err error }

func (e *interruptedError) Error() string { return e.err.Error() }
func (e *interruptedError) Unwrap() error { return e.err }

// usageError is bad input: a flag, an argument, a store that cannot be opened. Exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// asUsage marks err as a usage or configuration error.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	var u *usageError
	if errors.As(err, &u) {
		return err
	}
	return &usageError{err}
}

// exitCode maps a command's error to the process's exit code.
func exitCode(err error) int {
	var u *usageError
	var in *interruptedError
	switch {
	case err == nil:
		return exitCompleted
	case errors.As(err, &in):
		return exitInterrupted
	case errors.As(err, &u), errors.Is(err, checkpoint.ErrLeaseHeld):
		return exitUsage
	case errors.Is(err, checkpoint.ErrEscalated):
		return exitEscalated
	}
	return exitFailed
}

// silentError carries an exit code for an outcome the command has already reported in full
// (a run that failed or escalated, whose summary is printed): nothing more is written.
type silentError struct {
	err error
}

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }
