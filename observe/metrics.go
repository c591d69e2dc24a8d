package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rebound-go/rebound"
)

// Metrics holds Rebound's Prometheus collectors. Its methods are safe for concurrent use.
type Metrics struct {
	attempts        *prometheus.CounterVec
	retries         *prometheus.CounterVec
	breakerState    *prometheus.GaugeVec
	breakerChanges  *prometheus.CounterVec
	fallbacks       *prometheus.CounterVec
	checkpointWrite prometheus.Histogram
	steps           *prometheus.CounterVec
}

// Outcome labels of rebound_attempts_total besides the failure classes.
const OutcomeSuccess = "success"

// NewMetrics creates the collectors and registers them with reg (nil: not registered, for a
// caller who registers Collectors() itself). It panics if reg already holds collectors with the
// same names, as prometheus.MustRegister does: that is a wiring bug, not a runtime condition.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_attempts_total",
			Help: "Calls made to a dependency, by outcome: success or the class of the failure.",
		}, []string{"dependency", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_retries_total",
			Help: "Retries scheduled, by dependency and the class of the failure that caused them.",
		}, []string{"dependency", "class"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rebound_breaker_state",
			Help: "State of each circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"breaker"}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_breaker_transitions_total",
			Help: "Circuit breaker state changes, by breaker and the state entered.",
		}, []string{"breaker", "to"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_fallbacks_total",
			Help: "Answers given by a fallback instead of the primary, by source.",
		}, []string{"from", "to"}),
		checkpointWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rebound_checkpoint_write_seconds",
			Help:    "Time to write a record of a durable run's journal.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_steps_total",
			Help: "Steps of durable runs that ended, by status: completed, skipped, escalated, failed.",
		}, []string{"status"}),
	}
	if reg != nil {
		reg.MustRegister(m.Collectors()...)
	}
	return m
}

// Collectors returns every collector of m, for registering them elsewhere.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.attempts, m.retries, m.breakerState, m.breakerChanges, m.fallbacks, m.checkpointWrite, m.steps,
	}
}

// Hook returns the hook that updates the metrics from events. It is cheap and never blocks.
func (m *Metrics) Hook() rebound.Hook {
	return func(_ context.Context, e rebound.Event) { m.observe(e) }
}

func (m *Metrics) observe(e rebound.Event) {
	switch e.Kind {
	case rebound.AttemptFailed:
		m.attempts.WithLabelValues(dependency(e), e.Class.String()).Inc()
	case rebound.RetryScheduled:
		m.retries.WithLabelValues(dependency(e), e.Class.String()).Inc()
	case rebound.BreakerChanged:
		m.breakerState.WithLabelValues(e.Model).Set(BreakerStateValue(e.To))
		m.breakerChanges.WithLabelValues(e.Model, e.To).Inc()
	case rebound.FallbackUsed:
		m.fallbacks.WithLabelValues(e.From, e.To).Inc()
	case rebound.StepCompleted:
		m.steps.WithLabelValues(stepStatus(e, "completed")).Inc()
	case rebound.StepSkipped:
		m.steps.WithLabelValues("skipped").Inc()
	case rebound.Escalated:
		if e.Step != "" {
			m.steps.WithLabelValues("escalated").Inc()
		}
	case rebound.RunFailed:
		if e.Step != "" {
			m.steps.WithLabelValues("failed").Inc()
		}
	}
}

// ObserveAttempt counts one call to dependency that ended with err (nil: a success). Events only
// tell of failed attempts; a model or client wrapper calls this for every attempt so that
// rebound_attempts_total also counts successes. A failure counted here must not also reach the
// Hook as an attempt_failed event, or it is counted twice; use one or the other per dependency.
func (m *Metrics) ObserveAttempt(dependency string, err error) {
	outcome := OutcomeSuccess
	if err != nil {
		c, _ := rebound.Classify(err)
		outcome = c.String()
	}
	m.attempts.WithLabelValues(dependency, outcome).Inc()
}

// ObserveSuccess counts one successful call to dependency.
func (m *Metrics) ObserveSuccess(dependency string) {
	m.attempts.WithLabelValues(dependency, OutcomeSuccess).Inc()
}

// ObserveCheckpointWrite records how long one journal write took. It has the shape of a write
// observer callback: pass m.ObserveCheckpointWrite where a store or runner takes one.
func (m *Metrics) ObserveCheckpointWrite(d time.Duration) {
	m.checkpointWrite.Observe(d.Seconds())
}

// BreakerStateValue maps a breaker state name to the gauge's value: "closed" 0, "half_open" 1,
// "open" 2. An unknown name is 0.
func BreakerStateValue(state string) float64 {
	switch state {
	case "open":
		return 2
	case "half_open", "half-open":
		return 1
	}
	return 0
}

func dependency(e rebound.Event) string {
	if e.Model != "" {
		return e.Model
	}
	return "unknown"
}

func stepStatus(e rebound.Event, def string) string {
	if e.Status != "" {
		return e.Status
	}
	return def
}
