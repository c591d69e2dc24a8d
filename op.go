package rebound

import "context"

// Op is one attempt at an operation that produces a T. The context carries the attempt's own
// deadline, if any; an Op must return when it is done.
type Op[T any] func(ctx context.Context) (T, error)
