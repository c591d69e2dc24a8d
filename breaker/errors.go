package breaker

import (
	"time"

	"github.com/rebound-go/rebound"
)

// OpenError is the error with which a breaker refuses a call. It matches rebound.ErrCircuitOpen
// (errors.Is), so retry never retries it (the breaker already knows the dependency is down) and
// a fallback moves on at once. Find it with errors.As:
//
//	var open *breaker.OpenError
//	if errors.As(err, &open) { ... open.Name, open.Until ... }
type OpenError struct {
	// Name is the breaker's name: the dependency that is down.
	Name string
	// State is Open, or HalfOpen when every probe slot is taken.
	State State
	// Until is when the breaker will next admit a probe: the end of the open time, or, when
	// half-open with every probe slot taken, the time of refusal (a slot frees when a probe
	// ends). Zero when the breaker was forced open: no probe until someone closes it.
	Until time.Time
}

// Error says which breaker refused the call and until when.
func (e *OpenError) Error() string {
	switch {
	case e.Until.IsZero():
		return "circuit " + quote(e.Name) + " forced open"
	case e.State == HalfOpen:
		return "circuit " + quote(e.Name) + " half-open: every probe slot taken"
	}
	return "circuit " + quote(e.Name) + " open until " + e.Until.UTC().Format(time.RFC3339Nano)
}

// Is reports whether target is rebound.ErrCircuitOpen.
func (e *OpenError) Is(target error) bool { return target == rebound.ErrCircuitOpen }

func quote(s string) string {
	if s == "" {
		return `""`
	}
	return `"` + s + `"`
}

// OpenedError is the failure of a call after which its breaker is open: this failure opened it
// (or a concurrent call's did while this one ran). It keeps the failure, so that Classify sees
// its class and errors.As finds it, and it matches rebound.ErrCircuitOpen, so that retry stops at
// once instead of waiting through a backoff that would end at the open breaker, and a fallback
// moves on. Do returns it, and so does Permit.DoneContext.
type OpenedError struct {
	// Err is the call's failure.
	Err error
	// Name is the breaker's name.
	Name string
	// Until is when the breaker will next admit a probe; zero when it was forced open.
	Until time.Time
}

// Error is the failure's message, with the breaker that it left open.
func (e *OpenedError) Error() string {
	return e.Err.Error() + " (breaker " + quote(e.Name) + " is now open)"
}

// Unwrap returns the failure and rebound.ErrCircuitOpen.
func (e *OpenedError) Unwrap() []error { return []error{e.Err, rebound.ErrCircuitOpen} }
