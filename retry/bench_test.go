package retry_test

import (
	"context"
	"testing"

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
