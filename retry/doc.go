// Package retry retries an operation with exponential backoff and jitter, driven by the class of
// each failure: it never retries what cannot succeed, and it honours the server's own delay hints.
//
// The delay math is pure: [Exponential], [FullJitter], [EqualJitter], [DecorrelatedJitter],
// [ProportionalJitter] and [Backoff.Delay] are functions of the attempt number, the [Backoff]
// settings and a random number in [0,1), with no clock and no state.
//
// [Do] runs an [rebound.Op] under a [Policy], whose zero value gives the defaults (5 attempts in
// all, base 1 s, factor 2, cap 60 s, full jitter):
//
//	text, err := retry.Do(ctx, retry.Policy{Name: "anthropic/claude-sonnet-4-6"}, func(ctx context.Context) (string, error) {
//		return callModel(ctx)
//	})
//	var gu *rebound.GiveUpError
//	if errors.As(err, &gu) && gu.Reason == rebound.HintTooLong {
//		// the server asked for a wait longer than the cap: fall back or escalate
//	}
//
// What is retried: a failure whose class is retriable (transient, rate_limited, overloaded,
// timeout, malformed), unless it says otherwise (rebound.Permanent, "x-should-retry: false", an
// open circuit), and anything marked rebound.Transient or rebound.RetryAfter. A server's delay
// hint replaces the computed delay, with jitter only upward; a hint over the cap gives up at once
// (rebound.HintTooLong) rather than being ignored or slept through. The caller's context ending
// stops everything (rebound.ContextEnded).
//
// A shared [Budget] bounds retries across calls (at most 20 % of the calls in flight may be
// retrying, never fewer than 3), so that an outage is not multiplied by retries.
package retry
