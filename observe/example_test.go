package observe_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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
