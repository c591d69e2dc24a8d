package observe_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/observe"
)

var benchEvent = rebound.Event{Kind: rebound.RetryScheduled, RunID: "r", Step: "s", Attempt: 1,
	Class: rebound.ClassRateLimited, Delay: time.Second, Model: "anthropic/claude-x", Err: errors.New("429")}

func BenchmarkMetricsHook(b *testing.B) {
	h := observe.NewMetrics(prometheus.NewRegistry()).Hook()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h(ctx, benchEvent)
	}
}

func BenchmarkLogHook(b *testing.B) {
	h := observe.LogHook(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h(ctx, benchEvent)
	}
}

// BenchmarkTracerStep is one step with a failed attempt, a retry and a success.
func BenchmarkTracerStep(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	h := observe.NewTracer(tp).Hook()
	ctx := context.Background()
	now := time.Now()
	h(ctx, rebound.Event{Time: now, Kind: rebound.RunStarted, RunID: "r"})
	b.ReportAllocs()
	for b.Loop() {
		h(ctx, rebound.Event{Time: now, Kind: rebound.StepStarted, RunID: "r", Step: "s"})
		h(ctx, rebound.Event{Time: now, Kind: rebound.AttemptFailed, RunID: "r", Step: "s", Attempt: 1, Class: rebound.ClassOverloaded})
		h(ctx, rebound.Event{Time: now, Kind: rebound.RetryScheduled, RunID: "r", Step: "s", Attempt: 1, Delay: time.Second})
		h(ctx, rebound.Event{Time: now, Kind: rebound.StepCompleted, RunID: "r", Step: "s"})
	}
}
