package peers_test

import (
	"context"
	"testing"

	"github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/retry"
)

// Retry benchmarks: the operation succeeds at once, or fails twice and then succeeds, with
// zero delays everywhere (so the figures are the libraries' own cost, not sleeping). Each
// library is set up once, outside the loop, at up to 5 attempts.

// errTransient is a failure each library retries: rebound by its class, the peers by default.
var errTransient error = &rebound.Error{Class: rebound.ClassTransient, Status: 503}

// flaky fails its first fails calls after each reset, then succeeds.
type flaky struct{ n, fails int }

func (f *flaky) call() (string, error) {
	f.n++
	if f.n <= f.fails {
		return "", errTransient
	}
	return "ok", nil
}

func benchRetry(b *testing.B, fails int) {
	ctx := context.Background()
	b.Run("rebound", func(b *testing.B) {
		f := &flaky{fails: fails}
		p := retry.Policy{MaxAttempts: 5, Rand: func() float64 { return 0 }} // full jitter at 0: no wait
		op := func(context.Context) (string, error) { return f.call() }
		b.ReportAllocs()
		for b.Loop() {
			f.n = 0
			if _, err := retry.Do(ctx, p, op); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backoff", func(b *testing.B) {
		f := &flaky{fails: fails}
		opts := []backoff.RetryOption{backoff.WithBackOff(&backoff.ZeroBackOff{}), backoff.WithMaxTries(5)}
		op := f.call
		b.ReportAllocs()
		for b.Loop() {
			f.n = 0
			if _, err := backoff.Retry(ctx, op, opts...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		f := &flaky{fails: fails}
		rp := retrypolicy.NewBuilder[string]().WithMaxAttempts(5).Build() // no delay by default
		ex := failsafe.With[string](rp)
		op := f.call
		b.ReportAllocs()
		for b.Loop() {
			f.n = 0
			if _, err := ex.Get(op); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRetrySuccess(b *testing.B)           { benchRetry(b, 0) }
func BenchmarkRetryTwoFailuresThenOK(b *testing.B) { benchRetry(b, 2) }

// Guard: the flaky operation really fails twice under each library (a benchmark that measured
// no retries would flatter everyone).
func TestFlakyRetries(t *testing.T) {
	f := &flaky{fails: 2}
	if _, err := retry.Do(context.Background(), retry.Policy{Rand: func() float64 { return 0 }},
		func(context.Context) (string, error) { return f.call() }); err != nil || f.n != 3 {
		t.Fatalf("rebound: %d calls, %v", f.n, err)
	}
	f.n = 0
	if _, err := backoff.Retry(context.Background(), f.call, backoff.WithBackOff(&backoff.ZeroBackOff{})); err != nil || f.n != 3 {
		t.Fatalf("backoff: %d calls, %v", f.n, err)
	}
	f.n = 0
	if _, err := failsafe.With[string](retrypolicy.NewBuilder[string]().WithMaxAttempts(5).Build()).Get(f.call); err != nil || f.n != 3 {
		t.Fatalf("failsafe: %d calls, %v", f.n, err)
	}
}
