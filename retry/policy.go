package retry

import (
	"context"
	"time"

	"github.com/rebound-go/rebound"
)

// DefaultMaxAttempts is the number of attempts in all (the first call included) of a zero Policy.
const DefaultMaxAttempts = 5

// DefaultHintSpread is the upward jitter added to a server's delay hint: up to 10 % of it.
const DefaultHintSpread = 0.1

// Policy says how to retry. Its zero value gives the defaults of docs/architecture.md ("Defaults"): 5 attempts in all,
// base delay 1 s, factor 2, cap 60 s, full jitter, no elapsed-time limit, no budget. A Policy
// holds no state of its own: it may be copied and shared by any number of goroutines, and every
// Do starts with a fresh count of attempts (a step rerun after an escalation gets a full set).
type Policy struct {
	// MaxAttempts is the number of attempts in all, the first call included. Zero: 5. Negative:
	// no limit (MaxElapsed, the budget or the context then end the retries). 1: no retry.
	MaxAttempts int
	// Base is the delay before the first retry, before jitter. Zero: 1 s.
	Base time.Duration
	// Factor multiplies the delay at each retry. Zero: 2.
	Factor float64
	// Cap bounds every computed delay, and every server hint: a hint longer than Cap gives up at
	// once with reason rebound.HintTooLong. Zero: 60 s.
	Cap time.Duration
	// Jitter is how delays are randomised. Zero: JitterFull.
	Jitter Jitter
	// Spread is JitterProportional's relative spread. Zero: 0.25.
	Spread float64
	// HintSpread is the upward jitter on a server's delay hint: the wait is the hint plus up to
	// HintSpread times the hint, never earlier than asked and never past Cap (unless the hint
	// itself is Cap). Zero: 0.1. Negative: none (the hint exactly).
	HintSpread float64
	// MaxElapsed bounds the time spent failing: measured from the end of the first failed attempt
	// (so a long first call does not use it up), a wait that would end past it is not started and
	// the loop gives up with reason rebound.ElapsedExceeded. Zero: no limit.
	MaxElapsed time.Duration
	// Classify overrides the classifier. It is not called once the caller's context has ended
	// (that is always rebound.ClassCanceled). Nil: rebound.Classify.
	Classify func(err error) (rebound.Class, time.Duration)
	// RetryOn decides by class whether a failure is retried. Explicit verdicts win over it (see
	// rebound.Marked): rebound.Permanent, "x-should-retry: false" and an open circuit are never
	// retried; rebound.Transient, rebound.RetryAfter and "x-should-retry: true" always are.
	// Nil: rebound.Class.Retriable.
	RetryOn func(rebound.Class) bool
	// Budget, if set, is asked before every retry and may refuse it (reason
	// rebound.BudgetExhausted). Share one *Budget between the policies of a process, or a
	// fleet-wide one (package fleet/redis) between processes. Nil: no budget.
	Budget Budgeter
	// FreeRetry, if set, names the failures whose retry Budget is not asked for: a retry after
	// a failure of a class for which it returns true is granted without drawing on the budget.
	// Package pipeline sets it for rate_limited: a 429 says the dependency is up but busy, its
	// retries are paced by the limiter, and the budget is there to stop retry storms against a
	// dependency that is down. Nil: every retry asks Budget.
	FreeRetry func(rebound.Class) bool
	// Hook receives rebound.AttemptFailed after each failed attempt, rebound.RetryScheduled
	// (with Delay) before each wait and rebound.GaveUp (with Reason) when the loop gives up, each
	// with Attempt (the attempt that failed, from 1), Class, Err and Model (= Name). It is called
	// on the caller's goroutine with no lock held, through rebound.Hook.Emit (so a Scope's hook in
	// the context sees the events too). Nil: none.
	Hook rebound.Hook
	// Name names the dependency retried ("anthropic/claude-sonnet-4-6", "tool/search"); it is
	// copied into every event's Model field. Empty: none.
	Name string
	// Rand returns a random number in [0,1) for jitter. Nil: math/rand/v2's Float64 (per-thread
	// state in the runtime, no lock, no shared backoff state).
	Rand func() float64
}

// Backoff returns the delay settings of the policy with its defaults filled in.
func (p Policy) Backoff() Backoff {
	return Backoff{Base: p.Base, Factor: p.Factor, Cap: p.Cap, Spread: p.Spread}.norm()
}

func (p Policy) maxAttempts() int {
	if p.MaxAttempts == 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

func (p Policy) hintSpread() float64 {
	switch {
	case p.HintSpread == 0:
		return DefaultHintSpread
	case p.HintSpread < 0 || p.HintSpread != p.HintSpread:
		return 0
	}
	return p.HintSpread
}

// HintDelay returns the wait for a server hint under p: hint plus an upward jitter of up to
// HintSpread·hint, given r in [0,1), bounded by Cap but never below hint. It is pure.
func (p Policy) HintDelay(hint time.Duration, r float64) time.Duration {
	if hint <= 0 {
		return 0
	}
	c := p.Backoff().Cap
	d := hint + scale(hint, p.hintSpread()*unit(r), c)
	return max(hint, min(d, c))
}

func (p Policy) classify(ctx context.Context, err error) (rebound.Class, time.Duration) {
	if p.Classify == nil || ctx.Err() != nil {
		return rebound.ClassifyContext(ctx, err)
	}
	return p.Classify(err)
}

func (p Policy) retryOn(c rebound.Class) bool {
	if p.RetryOn == nil {
		return c.Retriable()
	}
	return p.RetryOn(c)
}
