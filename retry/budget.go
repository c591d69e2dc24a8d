package retry

import (
	"context"
	"math"
	"sync/atomic"
)

// Budgeter is what a Policy asks before each retry: a retry budget shared by many calls, so that
// during an outage retries stop instead of multiplying the load. *Budget is the in-process one;
// package fleet/redis offers one shared by a fleet of processes. Implementations must be safe for
// concurrent use and must not block for long.
type Budgeter interface {
	// Begin records that a call (Do) has started; End that it has ended. Do calls End once for
	// every Begin.
	Begin(ctx context.Context)
	End(ctx context.Context)
	// AcquireRetry asks for one retry and reports whether it may go ahead. Do calls
	// ReleaseRetry once for every granted retry, when the retried attempt has ended (or its wait
	// was cut short).
	AcquireRetry(ctx context.Context) bool
	ReleaseRetry(ctx context.Context)
}

var _ Budgeter = (*Budget)(nil)

// The defaults of a Budget.
const (
	DefaultBudgetRatio      = 0.2
	DefaultBudgetMinRetries = 3
)

// Budget is an in-process retry budget: retries in flight may be at most Ratio of the calls in
// flight, but never fewer than MinRetries (Envoy's and failsafe-go's rule). Under an outage, when
// every call fails, it lets a fifth of them retry and the rest give up (rebound.BudgetExhausted)
// instead of multiplying the load on a dependency that is down. Its zero value is ready to use
// with the defaults; share one *Budget between the policies whose load it should bound. It is
// lock-free and never allocates.
type Budget struct {
	// Ratio is the share of the calls in flight that may be retrying. Zero or negative: 0.2.
	Ratio float64
	// MinRetries is the number of concurrent retries always allowed, however few calls are in
	// flight. Zero: 3. Negative: none.
	MinRetries int

	calls   atomic.Int64
	retries atomic.Int64
}

// Begin records a call in flight.
func (b *Budget) Begin(context.Context) { b.calls.Add(1) }

// End records that a call ended.
func (b *Budget) End(context.Context) { b.calls.Add(-1) }

// AcquireRetry grants a retry if the retries in flight are below the limit.
func (b *Budget) AcquireRetry(context.Context) bool {
	limit := b.Limit(b.calls.Load())
	for {
		r := b.retries.Load()
		if r >= limit {
			return false
		}
		if b.retries.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// ReleaseRetry gives back a granted retry.
func (b *Budget) ReleaseRetry(context.Context) { b.retries.Add(-1) }

// Limit returns how many retries may be in flight when calls are: max(MinRetries,
// floor(Ratio·calls)).
func (b *Budget) Limit(calls int64) int64 {
	ratio := b.Ratio
	if !(ratio > 0) {
		ratio = DefaultBudgetRatio
	}
	minRetries := int64(b.MinRetries)
	switch {
	case minRetries == 0:
		minRetries = DefaultBudgetMinRetries
	case minRetries < 0:
		minRetries = 0
	}
	share := math.Floor(ratio * float64(max(calls, 0)))
	if share >= math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return max(minRetries, int64(share))
}

// InFlight returns the calls and the retries in flight now.
func (b *Budget) InFlight() (calls, retries int64) { return b.calls.Load(), b.retries.Load() }
