// Package observe turns Rebound's events into Prometheus metrics, OpenTelemetry spans and slog
// records. Everything here is an adapter over [rebound.Hook]: the recovery packages emit events,
// and observe never reaches into them.
//
// Metrics (every name starts with rebound_):
//
//	rebound_attempts_total{dependency,outcome}        calls to a dependency; outcome is "success" or the failure's class
//	rebound_retries_total{dependency,class}           retries scheduled, by the class that caused them
//	rebound_breaker_state{breaker}                    0 closed, 1 half-open, 2 open
//	rebound_breaker_transitions_total{breaker,to}     state changes of each breaker
//	rebound_fallbacks_total{from,to}                  answers given by a fallback instead of the primary
//	rebound_escalations_open{reason}                  open escalation items (queue depth)
//	rebound_escalation_oldest_age_seconds{reason}     age of the oldest open item
//	rebound_checkpoint_write_seconds                  time to write a step's journal record (histogram)
//	rebound_steps_total{status}                       steps ended: completed, skipped, escalated, failed
//
// Composition, with one hook for everything (Example_composition runs it):
//
//	reg := prometheus.NewRegistry()
//	m := observe.NewMetrics(reg)
//	reg.MustRegister(observe.NewEscalationCollector(queueStats, observe.EscalationConfig{}))
//	tr := observe.NewTracer(tracerProvider)
//	hook := rebound.Hooks(m.Hook(), tr.Hook(), observe.LogHook(logger))
//
// queueStats is an [EscalationStatsFunc]: the escalation queue's depth by reason. The hook goes
// wherever Rebound takes one (a runner's config, a retry policy, a breaker set).
package observe
