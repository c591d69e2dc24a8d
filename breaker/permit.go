package breaker

import (
	"context"
	"time"

	"github.com/rebound-go/rebound"
)

// Permit is an admitted call. Report its outcome exactly once with Done, DoneAt or DoneContext;
// a half-open breaker holds a probe slot until then. The zero Permit ignores its outcome.
// A Permit is a small value: admitting a call and reporting it allocates nothing.
type Permit struct {
	b     *Breaker
	gen   uint64
	start int64 // admission, in ns since b.epoch (+1, so 0 is unset); only when measuring slow calls
}

// Done reports the call's outcome: nil is a success; an error counts by its class
// (rebound.Classify) as Settings.Failures and Settings.Neutral say.
func (p Permit) Done(err error) {
	if err == nil && p.b != nil && p.b.fast.Load()&fastQuiet != 0 {
		return // a success on a quiet breaker changes nothing
	}
	p.done(err)
}

func (p Permit) done(err error) { p.report(context.Background(), time.Time{}, err, false) }

// DoneAt is Done at the given time. (Given a zero time, it reads the clock when it needs one:
// to measure a slow call, to roll a time-based window, to time an opening.)
func (p Permit) DoneAt(now time.Time, err error) {
	p.report(context.Background(), now, err, false)
}

// DoneContext is Done for an error returned under ctx: when ctx has ended, the outcome is the
// caller's and counts as class canceled (rebound.ClassifyContext). Events of a change of state
// go to the Hook of ctx's rebound.Scope as well.
//
// It returns err, or, when err counts as a failure and the breaker is open after it, err as an
// *OpenedError, which matches rebound.ErrCircuitOpen: return it, and a retry around the call
// stops the moment the breaker opens, as it does around Do. So Allow and DoneContext are the
// whole of the manual path:
//
//	p, err := b.Allow()
//	if err != nil {
//		return err
//	}
//	v, err := call(ctx)
//	return v, p.DoneContext(ctx, err)
func (p Permit) DoneContext(ctx context.Context, err error) error {
	p.report(ctx, time.Time{}, err, true)
	if err == nil || p.b == nil {
		return err
	}
	return p.b.opened(ctx, err)
}

func (p Permit) report(ctx context.Context, now time.Time, err error, useCtx bool) {
	if p.b == nil {
		return
	}
	if err == nil && p.b.fast.Load()&fastQuiet != 0 {
		return // a success on a quiet breaker changes nothing
	}
	c := rebound.ClassUnknown
	ok := err == nil
	if !ok {
		if useCtx {
			c, _ = rebound.ClassifyContext(ctx, err)
		} else {
			c, _ = rebound.Classify(err)
		}
	}
	p.b.record(ctx, now, p, p.b.outcomeOf(ok, c))
}

// Record reports the outcome of a call by class, for callers that classify themselves: ok
// means success (c is then ignored).
func (p Permit) Record(now time.Time, ok bool, c rebound.Class) {
	if p.b == nil {
		return
	}
	p.b.record(context.Background(), now, p, p.b.outcomeOf(ok, c))
}

type outcome uint8

const (
	success outcome = iota
	failure
	neutral
)

func (b *Breaker) outcomeOf(ok bool, c rebound.Class) outcome {
	switch {
	case ok:
		return success
	case b.failures.has(c):
		return failure
	case b.neutral.has(c):
		return neutral
	}
	return success
}
