package timeout

import (
	"context"
	"errors"
	"time"

	"github.com/rebound-go/rebound"
)

// ErrAttemptTimeout is the cause (context.Cause) of the context an operation runs under once
// its attempt's time is up, and is matched (errors.Is) by the error Do returns then.
var ErrAttemptTimeout = errors.New("attempt timed out")

// Do runs op under a context that ends d after the call, and tells the two ways a deadline can
// end an attempt apart:
//
//   - the attempt's own time ran out (the caller's context is still live): the error is a
//     *rebound.Error of class timeout, which retry retries and a breaker counts as a failure;
//     it wraps op's error and matches ErrAttemptTimeout;
//   - the caller's context ended (cancelled, or its own deadline passed): the error is a
//     *rebound.Error of class canceled wrapping the caller's context error, which retry stops on
//     and a breaker ignores.
//
// An op that returns a value with a nil error is a success, even if the time ran out just after.
// op must return when its context ends: Do waits for it and never abandons a goroutine.
// With d <= 0, Do just calls op(ctx).
func Do[T any](ctx context.Context, d time.Duration, op rebound.Op[T]) (T, error) {
	if d <= 0 {
		return op(ctx)
	}
	actx, cancel := context.WithTimeoutCause(ctx, d, ErrAttemptTimeout)
	v, err := op(actx)
	expired := actx.Err() != nil
	cancel()
	if err == nil {
		return v, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return v, callerEnded(cerr, err)
	}
	if expired && errors.Is(context.Cause(actx), ErrAttemptTimeout) {
		return v, &rebound.Error{
			Class:   rebound.ClassTimeout,
			Message: "attempt timed out after " + d.String(),
			Err:     &expiredError{err: err},
		}
	}
	return v, err
}

// callerEnded keeps op's error inside (errors.Is sees both) but is class canceled even for
// plain rebound.Classify, which would read a bare context.DeadlineExceeded as a timeout.
func callerEnded(cerr, err error) error {
	if err == cerr {
		return &rebound.Error{Class: rebound.ClassCanceled, Err: cerr}
	}
	return &rebound.Error{Class: rebound.ClassCanceled, Message: cerr.Error() + " (" + err.Error() + ")",
		Err: errors.Join(cerr, err)}
}

// expiredError wraps op's error and also matches ErrAttemptTimeout.
type expiredError struct{ err error }

func (e *expiredError) Error() string        { return e.err.Error() }
func (e *expiredError) Unwrap() error        { return e.err }
func (e *expiredError) Is(target error) bool { return target == ErrAttemptTimeout }
