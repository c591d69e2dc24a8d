package rebound

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Error is a classified failure: what the provider, the transport or Rebound itself said went
// wrong, with the class every policy decides by. Adapters (llm/anthropicllm, llm/openaillm,
// httpx) turn the errors of the clients they wrap into *Error, keeping the original as Err.
type Error struct {
	// Class is the kind of failure. When zero (ClassUnknown) and Status is set, Classify derives the
	// class from Status.
	Class Class
	// Status is the HTTP status, if the failure came with one (0 otherwise; 200 for an error
	// event inside a stream).
	Status int
	// Provider names the provider ("anthropic", "openai") or dependency, if known.
	Provider string
	// Type is the provider's error type ("overloaded_error", "insufficient_quota").
	Type string
	// Code is the provider's error code ("enforced_spend_limit_reached", "rate_limit_exceeded").
	Code string
	// Message is the provider's human-readable message.
	Message string
	// RequestID is the provider's request ID, for support tickets.
	RequestID string
	// RetryAfter is the delay the server asked for (0: none).
	RetryAfter time.Duration
	// ShouldRetry is the server's own verdict (x-should-retry), which wins over the class:
	// nil when the server said nothing.
	ShouldRetry *bool
	// Err is the underlying error, if any.
	Err error
}

// Error formats the failure on one line: class, provider, status, type, code, message.
func (e *Error) Error() string {
	var b strings.Builder
	c := e.Class
	if c == ClassUnknown && e.Status != 0 {
		c = StatusClass(e.Status) // as Classify reads it
	}
	b.WriteString(c.String())
	if e.Provider != "" {
		b.WriteString(" from ")
		b.WriteString(e.Provider)
	}
	if e.Status != 0 {
		b.WriteString(": status ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Type != "" {
		b.WriteString(" ")
		b.WriteString(e.Type)
	}
	if e.Code != "" {
		b.WriteString(" (")
		b.WriteString(e.Code)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as never to be retried, whatever its class. Classify still reports the
// class of err, so a breaker still sees a permanent 503 as a failure; retry does not retry it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// Transient marks err as retriable. An error whose class is not retriable (ClassUnknown included)
// is then classified as ClassTransient; a retriable class is kept.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err}
}

// RetryAfter marks err as retriable after at least d, as a server's delay hint would.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{d: d, err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

type retryAfterError struct {
	d   time.Duration
	err error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// GiveUpReason says why a retry loop stopped.
type GiveUpReason string

// The reasons a retry loop gives up.
const (
	// Exhausted: every attempt the policy allows failed.
	Exhausted GiveUpReason = "exhausted"
	// NotRetriable: the failure's class (or a Permanent mark, or x-should-retry: false) says a
	// retry cannot help.
	NotRetriable GiveUpReason = "not_retriable"
	// HintTooLong: the server asked for a delay longer than the policy's cap. Rebound neither
	// ignores such a hint nor sleeps through it: the caller can fall back or escalate.
	HintTooLong GiveUpReason = "hint_too_long"
	// BudgetExhausted: the shared retry budget refused the retry (an outage is under way).
	BudgetExhausted GiveUpReason = "budget_exhausted"
	// ContextEnded: the caller's context ended, during an attempt or a wait.
	ContextEnded GiveUpReason = "context_ended"
	// ElapsedExceeded: the policy's maximum elapsed time would be passed by the next wait.
	ElapsedExceeded GiveUpReason = "elapsed_exceeded"
	// BreakerOpen: a circuit breaker refused the call; retrying would not reach the dependency.
	BreakerOpen GiveUpReason = "breaker_open"
)

// ErrGaveUp matches every *GiveUpError with errors.Is.
var ErrGaveUp = errors.New("rebound: gave up")

// GiveUpError is the one error a retry loop returns when it stops without success. It keeps why
// it stopped and the last failure: errors.Is and errors.As see through it to the last failure
// (and, for ContextEnded, to the context's error).
type GiveUpError struct {
	Reason   GiveUpReason
	Attempts int
	// Last is the last attempt's error.
	Last error
	// Cause is the context's error when Reason is ContextEnded; nil otherwise.
	Cause error
	// Delay is the delay that was refused, for HintTooLong and ElapsedExceeded.
	Delay time.Duration
}

func (e *GiveUpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gave up after %d attempt", e.Attempts)
	if e.Attempts != 1 {
		b.WriteByte('s')
	}
	b.WriteString(" (")
	b.WriteString(string(e.Reason))
	if e.Delay > 0 {
		b.WriteString(", asked to wait ")
		b.WriteString(e.Delay.String())
	}
	b.WriteString(")")
	if e.Last != nil {
		b.WriteString(": ")
		b.WriteString(e.Last.Error())
	} else if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the last failure and, when the context ended, the context's error.
func (e *GiveUpError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Last != nil {
		errs = append(errs, e.Last)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Is reports whether target is ErrGaveUp.
func (e *GiveUpError) Is(target error) bool { return target == ErrGaveUp }
