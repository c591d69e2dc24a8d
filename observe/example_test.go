package observe_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/observe"
)

func ExampleMetrics() {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	hook := m.Hook() // give it to a runner, a retry policy, a breaker set

	hook(context.Background(), rebound.Event{Kind: rebound.RetryScheduled, Model: "anthropic/claude-x", Class: rebound.ClassRateLimited})
	hook(context.Background(), rebound.Event{Kind: rebound.BreakerChanged, Model: "anthropic/claude-x", From: "closed", To: "open"})

	n, _ := testutil.GatherAndCount(reg, "rebound_retries_total", "rebound_breaker_state")
	fmt.Println(n, "series")
	// Output: 2 series
}

// The composition of the package doc: Prometheus metrics, the escalation queue's depth read at
// each scrape, OpenTelemetry spans and slog records, all fed by one hook.
func Example_composition() {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	queueStats := func(ctx context.Context) ([]observe.EscalationStat, error) {
		// In a program: the escalation queue's Stats, by reason (rebound serve adapts one).
		return []observe.EscalationStat{{Reason: "irreversible_action", Open: 2, Oldest: time.Now().Add(-time.Minute)}}, nil
	}
	reg.MustRegister(observe.NewEscalationCollector(queueStats, observe.EscalationConfig{}))
	spans := tracetest.NewInMemoryExporter()
	tr := observe.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	hook := rebound.Hooks(m.Hook(), tr.Hook(), observe.LogHook(logger))

	// The hook goes wherever Rebound takes one (a runner's config, a retry policy, a breaker set).
	ctx := context.Background()
	hook(ctx, rebound.Event{Kind: rebound.RunStarted, RunID: "r1"})
	hook(ctx, rebound.Event{Kind: rebound.RetryScheduled, RunID: "r1", Step: "outline", Model: "anthropic/claude-x",
		Class: rebound.ClassRateLimited, Attempt: 1, Delay: 700 * time.Millisecond})
	hook(ctx, rebound.Event{Kind: rebound.RunCompleted, RunID: "r1"})

	n, _ := testutil.GatherAndCount(reg, "rebound_retries_total", "rebound_escalations_open")
	fmt.Println(n, "series;", len(spans.GetSpans()) > 0, "spans;", strings.Contains(logs.String(), "retry_scheduled"), "log")
	// Output: 2 series; true spans; true log
}
