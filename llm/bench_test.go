package llm_test

import (
	"context"
	"testing"

	"github.com/rebound-go/rebound/llm"
)

// BenchmarkResilientGenerate is the cost Resilient adds to a call that succeeds at once
// (pacing, breaker, attempt timeout, retry), over a model that answers immediately.
func BenchmarkResilientGenerate(b *testing.B) {
	m := answering("anthropic/a", 1)
	r := mustResilient(b, m, llm.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Generate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFallbackPrimaryAnswers is the cost of a Fallback chain whose primary answers.
func BenchmarkFallbackPrimaryAnswers(b *testing.B) {
	c := llm.Fallback(answering("anthropic/a", 1), answering("openai/b", 1))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Generate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
