package breaker

import (
	"context"
	"time"

	"github.com/rebound-go/rebound"
)

// Do runs op if b admits it, and reports its outcome classified with rebound.ClassifyContext:
// a failure of the caller's own context counts as nothing. A refusal is an *ErrOpen and op does
// not run. A panic in op counts as a failure and is re-panicked.
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
	return v, err
}
