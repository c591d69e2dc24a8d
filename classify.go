package rebound

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// ErrCircuitOpen is matched (errors.Is) by every error with which a circuit breaker refuses a
// call. Such an error is never retried (the breaker already knows the dependency is down); it is
// the signal for a fallback.
var ErrCircuitOpen = errors.New("rebound: circuit open")

// Classify returns the class of err and the delay the server asked for (0 when none). It looks
// through wrapped errors in the order errors.As does and answers from the first error it
// understands:
//
//   - the marks Permanent (class of what it wraps), Transient and RetryAfter (a retriable class:
//     the wrapped one's if retriable, else ClassTransient);
//   - a *GiveUpError (ClassCanceled if the context ended, else the class of its last failure);
//   - an *Error (its Class, or the class of its Status when Class is ClassUnknown, or else the
//     class of its Err; its RetryAfter);
//   - an error matching ErrCircuitOpen (ClassTransient, never retried: see Retriable);
//   - context.Canceled (ClassCanceled) and context.DeadlineExceeded (ClassTimeout: an attempt's own
//     deadline; the caller's deadline is told apart by ClassifyContext);
//   - a net.Error that timed out (ClassTimeout); connection refused, reset, aborted, a broken pipe,
//     io.ErrUnexpectedEOF, io.EOF and other *net.OpError failures (ClassTransient); a DNS name that
//     does not exist (ClassInvalid).
//
// Anything else is ClassUnknown, which is not retried unless marked with Transient.
func Classify(err error) (Class, time.Duration) {
	if err == nil {
		return ClassUnknown, 0
	}
	c, d, _ := classify(err)
	return c, d
}

// ClassifyContext is Classify for an error returned under ctx: when ctx itself has ended, the
// failure is the caller's (ClassCanceled, stop), whatever err says; otherwise a deadline in err
// belonged to the attempt (ClassTimeout, retry).
func ClassifyContext(ctx context.Context, err error) (Class, time.Duration) {
	if ctx.Err() != nil {
		return ClassCanceled, 0
	}
	return Classify(err)
}

// Marked reports the retry verdict that err carries explicitly, if any: Permanent and a
// server's "x-should-retry: false" say no, as do a *GiveUpError and ErrCircuitOpen; Transient,
// RetryAfter and "x-should-retry: true" say yes. The first mark found (outermost first) wins.
// marked is false when err carries no verdict and the class decides.
func Marked(err error) (retriable, marked bool) {
	walk(err, func(e error) bool {
		switch x := e.(type) {
		case *permanentError, *GiveUpError:
			retriable, marked = false, true
		case *transientError, *retryAfterError:
			retriable, marked = true, true
		case *Error:
			if x.ShouldRetry != nil {
				retriable, marked = *x.ShouldRetry, true
			}
		default:
			if e == ErrCircuitOpen || isCircuitOpen(e) {
				retriable, marked = false, true
			}
		}
		return marked
	})
	return retriable, marked
}

// Retriable reports whether err is retried under the default rules: its explicit mark if it has
// one (see Marked), else its class's default (Class.Retriable).
func Retriable(err error) bool {
	if err == nil {
		return false
	}
	if r, ok := Marked(err); ok {
		return r
	}
	c, _ := Classify(err)
	return c.Retriable()
}

func isCircuitOpen(e error) bool {
	x, ok := e.(interface{ Is(error) bool })
	return ok && x.Is(ErrCircuitOpen)
}

// classify answers from the first error in err's tree that it understands.
func classify(err error) (c Class, d time.Duration, ok bool) {
	walk(err, func(e error) bool {
		c, d, ok = classifyOne(e)
		return ok
	})
	return c, d, ok
}

func classifyOne(e error) (Class, time.Duration, bool) {
	switch x := e.(type) {
	case *permanentError:
		c, _, _ := classify(x.err)
		return c, 0, true
	case *transientError:
		c, d, _ := classify(x.err)
		if !c.Retriable() {
			c = ClassTransient
		}
		return c, d, true
	case *retryAfterError:
		c, _, _ := classify(x.err)
		if !c.Retriable() {
			c = ClassTransient
		}
		return c, x.d, true
	case *GiveUpError:
		if x.Reason == ContextEnded {
			return ClassCanceled, 0, true
		}
		if x.Last == nil {
			return ClassUnknown, 0, true
		}
		c, _, _ := classify(x.Last)
		return c, 0, true
	case *Error:
		c := x.Class
		if c == ClassUnknown && x.Status != 0 {
			c = StatusClass(x.Status)
		}
		if c == ClassUnknown && x.Err != nil {
			// An adapter that wrapped a transport or context error without classifying it.
			cc, d, _ := classify(x.Err)
			if x.RetryAfter > 0 {
				d = x.RetryAfter
			}
			return cc, d, true
		}
		return c, x.RetryAfter, true
	case *net.DNSError:
		if x.IsNotFound {
			return ClassInvalid, 0, true
		}
		return ClassTransient, 0, true
	}
	switch {
	case e == ErrCircuitOpen || isCircuitOpen(e):
		return ClassTransient, 0, true
	case e == context.Canceled:
		return ClassCanceled, 0, true
	case e == context.DeadlineExceeded:
		return ClassTimeout, 0, true
	case e == io.ErrUnexpectedEOF, e == io.EOF:
		return ClassTransient, 0, true
	}
	if errno, isErrno := e.(syscall.Errno); isErrno {
		switch errno {
		case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
			syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH:
			return ClassTransient, 0, true
		}
		return ClassUnknown, 0, false
	}
	if ne, isNet := e.(net.Error); isNet && ne.Timeout() {
		return ClassTimeout, 0, true
	}
	if _, isOp := e.(*net.OpError); isOp {
		// Look deeper first (a refused dial is ClassTransient, a timed-out read ClassTimeout); a bare
		// OpError is a transport failure either way.
		if c, d, ok := classify(errors.Unwrap(e)); ok {
			return c, d, true
		}
		return ClassTransient, 0, true
	}
	return ClassUnknown, 0, false
}

// walk visits err's tree in the order errors.As does (pre-order, depth first) until visit
// returns true.
func walk(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if walk(e, visit) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
