package observe_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/observe"
)

func TestMetricsFromEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	h := m.Hook()
	ctx := context.Background()
	dep := "fake/primary"
	for _, e := range []rebound.Event{
		{Kind: rebound.AttemptFailed, Model: dep, Class: rebound.ClassRateLimited, Err: errors.New("429")},
		{Kind: rebound.RetryScheduled, Model: dep, Class: rebound.ClassRateLimited, Delay: time.Second},
		{Kind: rebound.AttemptFailed, Model: dep, Class: rebound.ClassOverloaded, Err: errors.New("529")},
		{Kind: rebound.BreakerChanged, Model: dep, From: "closed", To: "open"},
		{Kind: rebound.FallbackUsed, From: dep, To: "fake/fallback"},
		{Kind: rebound.StepCompleted, RunID: "r", Step: "outline"},
		{Kind: rebound.StepSkipped, RunID: "r", Step: "section_1"},
		{Kind: rebound.Escalated, RunID: "r", Step: "publish", Reason: "irreversible_action"},
	} {
		h(ctx, e)
	}
	m.ObserveSuccess(dep)
	m.ObserveAttempt("fake/fallback", nil)
	m.ObserveAttempt("fake/fallback", &rebound.Error{Class: rebound.ClassTimeout})
	m.ObserveCheckpointWrite(3 * time.Millisecond)

	want := `
# HELP rebound_attempts_total Calls made to a dependency, by outcome: success or the class of the failure.
# TYPE rebound_attempts_total counter
rebound_attempts_total{dependency="fake/fallback",outcome="success"} 1
rebound_attempts_total{dependency="fake/fallback",outcome="timeout"} 1
rebound_attempts_total{dependency="fake/primary",outcome="overloaded"} 1
rebound_attempts_total{dependency="fake/primary",outcome="rate_limited"} 1
rebound_attempts_total{dependency="fake/primary",outcome="success"} 1
# HELP rebound_breaker_state State of each circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE rebound_breaker_state gauge
rebound_breaker_state{breaker="fake/primary"} 2
# HELP rebound_breaker_transitions_total Circuit breaker state changes, by breaker and the state entered.
# TYPE rebound_breaker_transitions_total counter
rebound_breaker_transitions_total{breaker="fake/primary",to="open"} 1
# HELP rebound_fallbacks_total Answers given by a fallback instead of the primary, by source.
# TYPE rebound_fallbacks_total counter
rebound_fallbacks_total{from="fake/primary",to="fake/fallback"} 1
# HELP rebound_retries_total Retries scheduled, by dependency and the class of the failure that caused them.
# TYPE rebound_retries_total counter
rebound_retries_total{class="rate_limited",dependency="fake/primary"} 1
# HELP rebound_steps_total Steps of durable runs that ended, by status: completed, skipped, escalated, failed.
# TYPE rebound_steps_total counter
rebound_steps_total{status="completed"} 1
rebound_steps_total{status="escalated"} 1
rebound_steps_total{status="skipped"} 1
`
	names := []string{"rebound_attempts_total", "rebound_breaker_state", "rebound_breaker_transitions_total",
		"rebound_fallbacks_total", "rebound_retries_total", "rebound_steps_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "rebound_checkpoint_write_seconds"); n != 1 {
		t.Fatalf("checkpoint write histogram: %d series, want 1", n)
	}
}

func TestBreakerStateGaugeFollowsTransitions(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	h := m.Hook()
	for _, c := range []struct {
		to   string
		want float64
	}{{"open", 2}, {"half_open", 1}, {"closed", 0}} {
		h(context.Background(), rebound.Event{Kind: rebound.BreakerChanged, Model: "db", To: c.to})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var got float64 = -1
		for _, mf := range mfs {
			if mf.GetName() == "rebound_breaker_state" {
				got = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if got != c.want {
			t.Errorf("after a change to %s: gauge %v, want %v", c.to, got, c.want)
		}
	}
}

func TestEscalationCollector(t *testing.T) {
	oldest := time.Now().Add(-90 * time.Second)
	calls := 0
	c := observe.NewEscalationCollector(func(ctx context.Context) ([]observe.EscalationStat, error) {
		calls++
		if calls > 1 {
			return nil, errors.New("database gone")
		}
		return []observe.EscalationStat{
			{Reason: "irreversible_action", Open: 2, Oldest: oldest},
			{Reason: "low_confidence", Open: 0},
		}, nil
	}, observe.EscalationConfig{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()+"/"+m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if got["rebound_escalations_open/irreversible_action"] != 2 || got["rebound_escalations_open/low_confidence"] != 0 {
		t.Errorf("open: %v", got)
	}
	if age := got["rebound_escalation_oldest_age_seconds/irreversible_action"]; age < 90 || age > 3600 {
		t.Errorf("oldest age %v, want about 90 s", age)
	}
	if age := got["rebound_escalation_oldest_age_seconds/low_confidence"]; age != 0 {
		t.Errorf("oldest age of an empty reason %v, want 0", age)
	}
	// A failed read omits the series instead of failing the whole scrape.
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("after a failed read: %d series, want 0", n)
	}
}

func TestMetricNamesArePrefixed(t *testing.T) {
	m := observe.NewMetrics(nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Collectors()...)
	m.Hook()(context.Background(), rebound.Event{Kind: rebound.StepCompleted})
	m.ObserveSuccess("x")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "rebound_") {
			t.Errorf("metric %s lacks the rebound_ prefix", mf.GetName())
		}
	}
}
