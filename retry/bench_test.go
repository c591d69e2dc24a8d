package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/retry"
)

func BenchmarkDoSuccess(b *testing.B) {
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	var p retry.Policy
	b.ReportAllocs()
	for b.Loop() {
		if _, err := retry.Do(ctx, p, op); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDoSuccessWithBudget(b *testing.B) {
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	p := retry.Policy{Budget: &retry.Budget{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := retry.Do(ctx, p, op); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFullJitter(b *testing.B) {
	var bo retry.Backoff
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = retry.FullJitter(i&7, bo, 0.5)
	}
}

func BenchmarkDoThreeFailures(b *testing.B) {
	ctx := context.Background()
	fail := rebound.Transient(errors.New("flaky"))
	p := retry.Policy{Rand: func() float64 { return 0 }} // full jitter at 0: no wait
	b.ReportAllocs()
	for b.Loop() {
		calls := 0
		_, err := retry.Do(ctx, p, func(context.Context) (int, error) {
			calls++
			if calls <= 3 {
				return 0, fail
			}
			return 1, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
