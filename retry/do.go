package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/rebound-go/rebound"
)

// Do calls op until it succeeds or p gives up, and returns its result. It retries only what p
// says is retriable (see Policy.RetryOn), waiting between attempts as p's backoff or the server's
// delay hint says; a wait ends early when ctx ends. Each call starts afresh: the attempt count
// and the elapsed time belong to the call, not to p.
//
// On failure Do returns T's zero value and a *rebound.GiveUpError that keeps the reason, the
// attempt count and the last error (errors.Is and errors.As see through it to that error and, if
// the context ended, to the context's error). The reasons: rebound.NotRetriable (the class, a
// rebound.Permanent mark or "x-should-retry: false"), rebound.BreakerOpen (an error matching
// rebound.ErrCircuitOpen), rebound.Exhausted, rebound.HintTooLong (a server hint over p.Cap),
// rebound.ElapsedExceeded, rebound.BudgetExhausted and rebound.ContextEnded (ctx ended during an
// attempt or a wait).
//
// A call whose first attempt succeeds costs one function call more than op itself: no clock read,
// no allocation.
func Do[T any](ctx context.Context, p Policy, op rebound.Op[T]) (T, error) {
	if p.Budget != nil {
		p.Budget.Begin(ctx)
		defer p.Budget.End(ctx)
	}
	v, err := op(ctx)
	if err == nil {
		return v, nil
	}
	return again(ctx, &p, op, err)
}

// Wrap returns an Op that runs op under p (see Do).
func Wrap[T any](p Policy, op rebound.Op[T]) rebound.Op[T] {
	return func(ctx context.Context) (T, error) { return Do(ctx, p, op) }
}

// again is the retry loop after a first failure.
func again[T any](ctx context.Context, p *Policy, op rebound.Op[T], err error) (T, error) {
	var zero T
	var s state
	for attempt := 1; ; attempt++ {
		delay, gu := s.decide(ctx, p, attempt, err)
		if gu != nil {
			return zero, gu
		}
		if gu := s.wait(ctx, p, attempt, delay, err); gu != nil {
			return zero, gu
		}
		v, next := retried(ctx, p, &s, op)
		if next == nil {
			return v, nil
		}
		err = next
	}
}

// retried runs an attempt after the first and gives back the retry the budget granted for it
// when the attempt ends, even by a panic (a retry kept for ever would shrink the shared budget
// for every call of the process).
func retried[T any](ctx context.Context, p *Policy, s *state, op rebound.Op[T]) (T, error) {
	if s.drawn {
		s.drawn = false
		defer p.Budget.ReleaseRetry(ctx)
	}
	return op(ctx)
}

// state is what one call's retry loop remembers between attempts.
type state struct {
	first time.Time     // end of the first failed attempt, for MaxElapsed
	prev  time.Duration // the previous delay, for JitterDecorrelated
	class rebound.Class // the last failure's class
	drawn bool          // the retry scheduled last was granted by p.Budget (not free)
}

// decide classifies the failure of attempt and returns the delay before the next one, or the
// give-up error.
func (s *state) decide(ctx context.Context, p *Policy, attempt int, err error) (time.Duration, *rebound.GiveUpError) {
	class, hint := p.classify(ctx, err)
	s.class = class
	p.emit(ctx, rebound.Event{Kind: rebound.AttemptFailed, Attempt: attempt, Class: class, Err: err})

	if ctx.Err() != nil {
		return 0, s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.ContextEnded, Attempts: attempt, Last: err, Cause: ctx.Err()})
	}
	if errors.Is(err, rebound.ErrCircuitOpen) {
		return 0, s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.BreakerOpen, Attempts: attempt, Last: err})
	}
	retriable, marked := rebound.Marked(err)
	if !marked {
		retriable = p.retryOn(class)
	}
	if !retriable {
		return 0, s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.NotRetriable, Attempts: attempt, Last: err})
	}
	if m := p.maxAttempts(); m > 0 && attempt >= m {
		return 0, s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: attempt, Last: err})
	}

	b := p.Backoff()
	var delay time.Duration
	if hint > 0 {
		if hint > b.Cap {
			return 0, s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.HintTooLong, Attempts: attempt, Last: err, Delay: hint})
		}
		delay = p.HintDelay(hint, p.rand())
	} else {
		delay = b.Delay(p.Jitter, attempt-1, s.prev, p.rand())
	}
	s.prev = delay

	if p.MaxElapsed > 0 {
		now := time.Now()
		if s.first.IsZero() {
			s.first = now
		}
		if now.Sub(s.first)+delay > p.MaxElapsed {
			return 0, s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.ElapsedExceeded, Attempts: attempt, Last: err, Delay: delay})
		}
	}
	if p.Budget != nil && (p.FreeRetry == nil || !p.FreeRetry(class)) {
		if !p.Budget.AcquireRetry(ctx) {
			return 0, s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.BudgetExhausted, Attempts: attempt, Last: err})
		}
		s.drawn = true
	}
	p.emit(ctx, rebound.Event{Kind: rebound.RetryScheduled, Attempt: attempt, Class: class, Delay: delay, Err: err})
	return delay, nil
}

// wait sleeps for delay unless ctx ends first; a retry granted by the budget is given back when
// the wait is cut short.
func (s *state) wait(ctx context.Context, p *Policy, attempt int, delay time.Duration, err error) *rebound.GiveUpError {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if ctx.Err() == nil {
		return nil
	}
	if s.drawn {
		s.drawn = false
		p.Budget.ReleaseRetry(ctx)
	}
	s.class = rebound.ClassCanceled
	return s.giveUp(ctx, p, &rebound.GiveUpError{Reason: rebound.ContextEnded, Attempts: attempt, Last: err, Cause: ctx.Err()})
}

func (s *state) giveUp(ctx context.Context, p *Policy, g *rebound.GiveUpError) *rebound.GiveUpError {
	p.emit(ctx, rebound.Event{Kind: rebound.GaveUp, Attempt: g.Attempts, Class: s.class, Reason: string(g.Reason), Delay: g.Delay, Err: g.Last})
	return g
}

func (p *Policy) emit(ctx context.Context, e rebound.Event) {
	e.Model = p.Name
	p.Hook.Emit(ctx, e)
}

func (p *Policy) rand() float64 {
	if p.Rand != nil {
		return p.Rand()
	}
	return rand.Float64()
}
