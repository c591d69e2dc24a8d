package fallback

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/rebound-go/rebound"
)

// Alternative is one way to get the answer: a model, another provider, a cache, a static reply.
type Alternative[T any] struct {
	// Name names the source ("anthropic/claude-sonnet-4-6", "cache"). It is Result.Source when
	// this alternative answers, and Failure.Source when it fails.
	Name string
	// Op produces the answer.
	Op rebound.Op[T]
	// When decides whether the failure of the alternative tried last moves on to this one; when
	// it says no, this alternative is skipped and the next one is asked. Default (nil):
	// DefaultWhen, every failure except canceled and invalid. Not consulted for the first
	// alternative.
	When func(f Failure) bool
	// Degraded marks this alternative's answer as worse than the primary's (a smaller model, a
	// stale cache, a static reply): Result.Degraded is then true.
	Degraded bool
}

// DefaultWhen is the default Alternative.When: every failure moves on except the caller's own
// cancellation (class canceled) and a bad request (class invalid), which no alternative can
// mend.
func DefaultWhen(f Failure) bool {
	return f.Class != rebound.ClassCanceled && f.Class != rebound.ClassInvalid
}

// Chain is an ordered list of alternatives, the first one the primary. The zero Chain has no
// alternative and fails. A Chain is safe for concurrent use once built.
type Chain[T any] struct {
	Alternatives []Alternative[T]
	// Hook, if set, receives a rebound.FallbackUsed event each time the chain moves on from a
	// failed alternative to the next one it tries (From, To: their names; Model: To; Class and
	// Err: the failure; Status: "degraded" when To is marked Degraded). Events also reach the
	// Hook of a rebound.Scope in ctx. It is called on the goroutine of Do, with no lock held.
	Hook rebound.Hook
}

// Result is an answer and where it came from. A degraded answer is never silent: Degraded says
// so, Source names who gave it, Failures lists what failed before.
type Result[T any] struct {
	Value T
	// Source is the Name of the alternative that answered.
	Source string
	// Degraded is true when that alternative is marked Degraded.
	Degraded bool
	// Failures lists, in order, every alternative that was tried and failed.
	Failures []Failure
}

// Fallback reports whether the answer came from an alternative other than the first one tried.
func (r Result[T]) Fallback() bool { return len(r.Failures) > 0 }

// Failure is one alternative's failure.
type Failure struct {
	Source string
	Class  rebound.Class
	Err    error
}

// Error formats the failure as "source: class: error".
func (f *Failure) Error() string {
	return f.Source + ": " + f.Class.String() + ": " + f.Err.Error()
}

// Unwrap returns the alternative's error.
func (f *Failure) Unwrap() error { return f.Err }

// Error is what Do returns when no alternative answered: every failure, in order. errors.Is and
// errors.As see each failure (as a *Failure) and the error inside it, so
// errors.Is(err, rebound.ErrCircuitOpen) holds when some breaker was open.
type Error struct {
	Failures []Failure
}

// Error lists each failure.
func (e *Error) Error() string {
	if len(e.Failures) == 0 {
		return "fallback: no alternative"
	}
	var b strings.Builder
	b.WriteString("fallback: every alternative failed: ")
	for i := range e.Failures {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Failures[i].Error())
	}
	return b.String()
}

// Unwrap returns each failure as a *Failure.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i := range e.Failures {
		errs[i] = &e.Failures[i]
	}
	return errs
}

// ErrNoAlternative is the Err of a Chain with no alternatives.
var ErrNoAlternative = errors.New("fallback: no alternative")

// Do asks each alternative in turn until one answers. The first alternative is always tried;
// each later one is tried when its When accepts the last failure, and skipped otherwise. Do
// stops at once when ctx ends. On success the error is nil and the Result says who answered;
// otherwise the error is an *Error listing every failure (also in Result.Failures).
func (c *Chain[T]) Do(ctx context.Context) (Result[T], error) {
	var r Result[T]
	if len(c.Alternatives) == 0 {
		return r, ErrNoAlternative
	}
	var last *Failure
	for i := range c.Alternatives {
		a := &c.Alternatives[i]
		if last != nil {
			if ctx.Err() != nil {
				break
			}
			when := a.When
			if when == nil {
				when = DefaultWhen
			}
			if !when(*last) {
				continue
			}
			st := ""
			if a.Degraded {
				st = "degraded"
			}
			c.Hook.Emit(ctx, rebound.Event{
				Kind: rebound.FallbackUsed, From: last.Source, To: a.Name, Model: a.Name,
				Class: last.Class, Err: last.Err, Status: st,
			})
		}
		if a.Op == nil {
			err := &rebound.Error{Class: rebound.ClassInvalid, Message: "fallback: alternative " + strconv.Quote(a.Name) + " has no Op"}
			r.Failures = append(r.Failures, Failure{Source: a.Name, Class: rebound.ClassInvalid, Err: err})
			last = &r.Failures[len(r.Failures)-1]
			continue
		}
		v, err := a.Op(ctx)
		if err == nil {
			r.Value, r.Source, r.Degraded = v, a.Name, a.Degraded
			return r, nil
		}
		cl, _ := rebound.ClassifyContext(ctx, err)
		r.Failures = append(r.Failures, Failure{Source: a.Name, Class: cl, Err: err})
		last = &r.Failures[len(r.Failures)-1]
	}
	return r, &Error{Failures: r.Failures}
}

// Do is a shorthand for a Chain without a hook: Chain[T]{Alternatives: alts}.Do(ctx).
func Do[T any](ctx context.Context, alts ...Alternative[T]) (Result[T], error) {
	c := Chain[T]{Alternatives: alts}
	return c.Do(ctx)
}
