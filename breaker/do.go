package breaker

import (
	"context"
	"time"

	"github.com/rebound-go/rebound"
)

// Do runs op if b admits it, and reports its outcome classified with rebound.ClassifyContext:
// a failure of the caller's own context counts as nothing. A refusal is an *ErrOpen and op does
// not run. A failure after which b is open is returned as an *OpenedError (see Opened), so that
// a retry around Do stops at once. A panic in op counts as a failure and is re-panicked.
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
	p.report(ctx, time.Time{}, err, true)
	if err != nil {
		err = b.Opened(ctx, err)
	}
	return v, err
}

// Opened returns err, the failure of a call b admitted (already reported to its Permit), as an
// *OpenedError when it counts as a failure by b's classes (classified with
// rebound.ClassifyContext) and b is open after it; otherwise err unchanged. Callers of Allow use
// it after DoneContext so that a retry around them stops the moment the breaker opens, as Do's
// callers' do.
func (b *Breaker) Opened(ctx context.Context, err error) error {
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
