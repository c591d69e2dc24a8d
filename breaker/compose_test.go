package breaker_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fallback"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/timeout"
)

// compose wraps op in the documented order: retry, then the breaker, then the attempt timeout.
// (The fallback chain goes around the result.)
func compose[T any](p retry.Policy, b *breaker.Breaker, d time.Duration, op rebound.Op[T]) rebound.Op[T] {
	return func(ctx context.Context) (T, error) {
		return retry.Do(ctx, p, func(ctx context.Context) (T, error) {
			return breaker.Do(ctx, b, func(ctx context.Context) (T, error) {
				return timeout.Do(ctx, d, op)
			})
		})
	}
}

var noDelay = retry.Policy{MaxAttempts: 10, Rand: func() float64 { return 0 }}

func TestRetryStopsWhenTheBreakerOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{Name: "m", ConsecutiveFailures: 3})
		calls := 0
		// Real backoff (100 ms base): the give-up comes with the failure that opened the breaker,
		// not after a wait that would end at the open breaker.
		p := retry.Policy{MaxAttempts: 10, Base: 100 * time.Millisecond}
		var retries []rebound.Event
		p.Hook = func(_ context.Context, e rebound.Event) {
			if e.Kind == rebound.RetryScheduled {
				retries = append(retries, e)
			}
		}
		op := compose(p, b, time.Minute, func(context.Context) (string, error) {
			calls++
			return "", errTransient
		})
		_, err := op(context.Background())
		if calls != 3 {
			t.Fatalf("the dependency was called %d times, want 3 (then the breaker opened)", calls)
		}
		var g *rebound.GiveUpError
		if !errors.As(err, &g) || g.Reason != rebound.BreakerOpen || g.Attempts != 3 {
			t.Fatalf("err = %v, want a give-up with reason breaker_open after 3 attempts", err)
		}
		if len(retries) != 2 {
			t.Errorf("%d retries scheduled, want 2: none after the failure that opened the breaker", len(retries))
		}
		if !errors.Is(err, rebound.ErrCircuitOpen) {
			t.Errorf("give-up %v does not match ErrCircuitOpen", err)
		}
		if c, _ := rebound.Classify(err); c != rebound.ClassTransient || !errors.Is(err, errTransient) {
			t.Errorf("give-up %v lost the failure (class %v)", err, c)
		}
		var opened *breaker.OpenedError
		if !errors.As(err, &opened) || opened.Name != "m" || opened.Until.IsZero() {
			t.Errorf("give-up does not carry the breaker's OpenedError: %v", err)
		}
		// The next call is refused without reaching the dependency.
		_, err = op(context.Background())
		var open *breaker.OpenError
		if calls != 3 || !errors.As(err, &open) || open.Name != "m" {
			t.Errorf("while open: %d calls, err %v", calls, err)
		}
	})
}

func TestFallbackAnswersAtOnceOnErrOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{Name: "sonnet", ConsecutiveFailures: 1})
		call(t, b, errTransient) // open for 5 s
		calls := 0
		var events []rebound.Event
		chain := fallback.Chain[string]{
			Alternatives: []fallback.Alternative[string]{
				// The default policy waits 1 s and more between attempts: any retry would show.
				{Name: "sonnet", Op: compose(retry.Policy{}, b, time.Minute, func(context.Context) (string, error) {
					calls++
					return "primary", nil
				})},
				{Name: "cache", Op: func(context.Context) (string, error) { return "cached", nil }, Degraded: true},
			},
			Hook: func(_ context.Context, e rebound.Event) { events = append(events, e) },
		}
		start := time.Now()
		r, err := chain.Do(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("the fallback answered after %v, want at once", waited)
		}
		if calls != 0 {
			t.Errorf("the primary was called %d times through an open breaker", calls)
		}
		if r.Value != "cached" || r.Source != "cache" || !r.Degraded || len(r.Failures) != 1 {
			t.Fatalf("result %+v", r)
		}
		if !errors.Is(r.Failures[0].Err, rebound.ErrCircuitOpen) {
			t.Errorf("recorded failure %v is not the open circuit", r.Failures[0].Err)
		}
		if len(events) != 1 || events[0].Kind != rebound.FallbackUsed || events[0].From != "sonnet" || events[0].To != "cache" {
			t.Errorf("events %+v", events)
		}
	})
}

func TestAttemptTimeoutIsABreakerFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{Name: "m", ConsecutiveFailures: 2})
		calls := 0
		op := compose(noDelay, b, 10*time.Second, func(ctx context.Context) (string, error) {
			calls++
			<-ctx.Done() // hangs until the attempt's time is up
			return "", ctx.Err()
		})
		start := time.Now()
		_, err := op(context.Background())
		if got := time.Since(start); got != 20*time.Second {
			t.Errorf("gave up after %v, want two 10 s attempts", got)
		}
		if calls != 2 {
			t.Errorf("%d attempts reached the dependency, want 2", calls)
		}
		wantState(t, b, breaker.Open)
		var g *rebound.GiveUpError
		if !errors.As(err, &g) || g.Reason != rebound.BreakerOpen {
			t.Fatalf("err = %v, want give-up breaker_open", err)
		}
	})
}

func TestCancellationCountsAsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Settings{Name: "m", FailureRate: -1})
		for range 4 {
			call(t, b, errTransient)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		cacheRan := false
		chain := fallback.Chain[string]{Alternatives: []fallback.Alternative[string]{
			{Name: "m", Op: compose(noDelay, b, time.Minute, func(ctx context.Context) (string, error) {
				<-ctx.Done()
				return "", ctx.Err()
			})},
			{Name: "cache", Op: func(context.Context) (string, error) { cacheRan = true; return "c", nil }},
		}}
		r, err := chain.Do(ctx)
		if err == nil || cacheRan {
			t.Fatalf("a cancelled call fell back: r = %+v, err = %v", r, err)
		}
		if r.Failures[0].Class != rebound.ClassCanceled {
			t.Errorf("class %v, want canceled", r.Failures[0].Class)
		}
		var g *rebound.GiveUpError
		if !errors.As(err, &g) || g.Reason != rebound.ContextEnded || g.Attempts != 1 {
			t.Errorf("err = %v, want one attempt and reason context_ended", err)
		}
		// Neither a failure (the breaker would open: 5 in a row) nor a success (the run of 4
		// failures would be broken).
		wantState(t, b, breaker.Closed)
		call(t, b, errTransient)
		wantState(t, b, breaker.Open)

		// The caller's own deadline, shorter than the attempt timeout, is a cancellation too.
		b = mustNew(t, breaker.Settings{Name: "m", ConsecutiveFailures: 1})
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_, err = compose(noDelay, b, time.Minute, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		})(dctx)
		if c, _ := rebound.Classify(err); c != rebound.ClassCanceled {
			t.Errorf("caller's deadline classified %v", c)
		}
		wantState(t, b, breaker.Closed)
	})
}
