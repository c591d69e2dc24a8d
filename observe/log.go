package observe

import (
	"context"
	"log/slog"

	"github.com/rebound-go/rebound"
)

// LogHook returns a hook that writes each event to logger as one structured record: the message
// is the event's name, the attributes its fields (run_id, step, attempt, class, delay, model,
// from, to, reason, escalation_id, err). Failures and degradations (attempt_failed, a breaker
// opening, fallback_used, gave_up, escalated) log at Warn, run_failed at Error, the rest at Info.
func LogHook(logger *slog.Logger) rebound.Hook {
	return func(ctx context.Context, e rebound.Event) {
		level := EventLevel(e)
		if !logger.Enabled(ctx, level) {
			return
		}
		logger.LogAttrs(ctx, level, string(e.Kind), EventAttrs(e)...)
	}
}

// EventLevel is the log level LogHook gives an event.
func EventLevel(e rebound.Event) slog.Level {
	switch e.Kind {
	case rebound.RunFailed:
		return slog.LevelError
	case rebound.AttemptFailed, rebound.FallbackUsed, rebound.GaveUp, rebound.Escalated:
		return slog.LevelWarn
	case rebound.BreakerChanged:
		if e.To == "open" {
			return slog.LevelWarn
		}
	}
	return slog.LevelInfo
}

// EventAttrs returns the fields of e that are set, as slog attributes.
func EventAttrs(e rebound.Event) []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("run_id", e.RunID)
	add("step", e.Step)
	if e.Attempt > 0 {
		attrs = append(attrs, slog.Int("attempt", e.Attempt))
	}
	if e.Class != rebound.ClassUnknown || e.Err != nil {
		add("class", e.Class.String())
	}
	add("status", e.Status)
	if e.Delay > 0 || e.Kind == rebound.RetryScheduled {
		attrs = append(attrs, slog.Duration("delay", e.Delay))
	}
	add("model", e.Model)
	add("from", e.From)
	add("to", e.To)
	add("reason", e.Reason)
	add("escalation_id", e.EscalationID)
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	return attrs
}
