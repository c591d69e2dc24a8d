package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/ratelimit"
)

// BenchmarkDo is one attempt through the whole pipeline, as llm.Resilient and httpx run it: a
// retry policy with its budget, a breaker from a Set, pacing by a ratelimit.Limiter, an
// attempt timeout, and a call that succeeds at once.
func BenchmarkDo(b *testing.B) {
	lim := ratelimit.New(ratelimit.Config{Name: "anthropic/a"})
	p, err := pipeline.New(pipeline.Config{
		Name:           "anthropic/a",
		Limiter:        func(string) *ratelimit.Limiter { return lim },
		AttemptTimeout: 2 * time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pipeline.Do(ctx, p, pipeline.Call[int]{}, op); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDoBare is the pipeline's own cost: no pacing, no attempt timeout.
func BenchmarkDoBare(b *testing.B) {
	p, err := pipeline.New(pipeline.Config{Name: "tool/a"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pipeline.Do(ctx, p, pipeline.Call[int]{}, op); err != nil {
			b.Fatal(err)
		}
	}
}
