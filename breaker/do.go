package breaker

import (
	"context"
	"time"

	"github.com/rebound-go/rebound"
)

// Do runs op if b admits it, and reports its outcome classified with rebound.ClassifyContext:
// a failure of the caller's own context counts as nothing. A refusal is an *OpenError and op does
// not run. A failure after which b is open is returned as an *OpenedError (see
// Permit.DoneContext), so that a retry around Do stops at once. A panic in op counts as a
// failure and is re-panicked.
func Do[T any](ctx context.Context, b *Breaker, op rebound.Op[T]) (T, error) {
	p, err := b.allow(ctx, time.Time{})
	if err != nil {
		var zero T
		return zero, err
	}
	done := false
	defer func() {
		if !done {
			b.record(ctx, time.Time{}, p, failure)
		}
	}()
	v, err := op(ctx)
	done = true
	return v, p.DoneContext(ctx, err)
}

// Check returns the *OpenError with which a call would be refused now, without admitting one
// (no probe slot is taken), or nil when a call might be admitted: the breaker is closed, or
// open with its open time passed, or half-open (Allow then decides whether a probe slot is
// free). Closed, it costs one atomic load. Package pipeline calls it before a call waits for
// its pacing turn, and admits the call with Allow only once the turn has come, so that a call
// is not sent after the breaker opened while it waited, and a probe does not hold the probe
// slot while it waits.
func (b *Breaker) Check() error { return b.CheckAt(time.Time{}) }

// CheckAt is Check at the given time (zero: the clock's, read only when the breaker is not
// closed).
func (b *Breaker) CheckAt(now time.Time) error {
	if b.fast.Load()&fastClosed != 0 {
		return nil
	}
	b.mu.Lock()
	state, forced, until := b.state, b.forced, b.openUntil
	b.mu.Unlock()
	switch {
	case state != Open:
		return nil
	case forced == forcedOpen:
		return &OpenError{Name: b.s.Name, State: Open}
	}
	if now.IsZero() {
		now = time.Now()
	}
	if now.Before(until) {
		return &OpenError{Name: b.s.Name, State: Open, Until: until}
	}
	return nil
}

// opened returns err, the failure of a call b admitted (already reported to its Permit), as an
// *OpenedError when it counts as a failure by b's classes (classified with
// rebound.ClassifyContext) and b is open after it; otherwise err unchanged.
func (b *Breaker) opened(ctx context.Context, err error) error {
	if err == nil || b.fast.Load()&fastClosed != 0 {
		return err
	}
	c, _ := rebound.ClassifyContext(ctx, err)
	if b.outcomeOf(false, c) != failure {
		return err
	}
	b.mu.Lock()
	open, until, forced := b.state == Open, b.openUntil, b.forced == forcedOpen
	b.mu.Unlock()
	if !open {
		return err
	}
	if forced {
		until = time.Time{}
	}
	return &OpenedError{Err: err, Name: b.s.Name, Until: until}
}
