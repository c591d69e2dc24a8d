package observe

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rebound-go/rebound"
)

// The attribute keys of Rebound's spans.
const (
	AttrRunID        = attribute.Key("rebound.run_id")
	AttrStep         = attribute.Key("rebound.step")
	AttrAttempt      = attribute.Key("rebound.attempt")
	AttrClass        = attribute.Key("rebound.class")
	AttrDelayMS      = attribute.Key("rebound.delay_ms")
	AttrModel        = attribute.Key("rebound.model")
	AttrReason       = attribute.Key("rebound.reason")
	AttrEscalationID = attribute.Key("rebound.escalation_id")
	AttrResumed      = attribute.Key("rebound.resumed")
	AttrSkipped      = attribute.Key("rebound.skipped")
)

// Tracer builds OpenTelemetry spans from events: a "rebound.run" span per run, a "rebound.step"
// span per step under it, and a "rebound.attempt" span per attempt under the step, with the
// failure's class and the retry delay as attributes. Breaker changes and fallbacks are span
// events on the step. Events carry their own times, so the spans are built as the events arrive,
// start and end stamped with those times; an attempt is taken to start when its step started or
// when the previous attempt's retry wait ended.
//
// A Tracer is safe for concurrent use. It holds state only for runs in progress.
type Tracer struct {
	tracer trace.Tracer

	mu   sync.Mutex
	runs map[string]*runSpan
}

type runSpan struct {
	ctx   context.Context
	span  trace.Span // nil when the run's events began mid-run (no run_started seen)
	steps map[string]*stepSpan
}

type stepSpan struct {
	ctx          context.Context
	span         trace.Span
	attemptStart time.Time
	attempt      int
	pending      trace.Span // the failed attempt awaiting its retry_scheduled
	pendingEnd   time.Time
}

// NewTracer returns a Tracer that starts spans from tp (for instance the SDK's
// sdktrace.NewTracerProvider, or otel.GetTracerProvider()).
func NewTracer(tp trace.TracerProvider) *Tracer {
	return &Tracer{
		tracer: tp.Tracer("github.com/rebound-go/rebound/observe"),
		runs:   make(map[string]*runSpan),
	}
}

// Hook returns the hook that builds spans from events. The context of a run_started event is
// the parent of the run's span.
func (t *Tracer) Hook() rebound.Hook {
	return func(ctx context.Context, e rebound.Event) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.observe(ctx, e)
	}
}

func (t *Tracer) observe(ctx context.Context, e rebound.Event) {
	switch e.Kind {
	case rebound.RunStarted, rebound.RunResumed:
		if r := t.runs[e.RunID]; r != nil && r.span != nil {
			t.endRun(e.RunID, e.Time, codes.Unset, "")
		}
		rctx, span := t.tracer.Start(ctx, "rebound.run", trace.WithTimestamp(e.Time),
			trace.WithAttributes(AttrRunID.String(e.RunID), AttrResumed.Bool(e.Kind == rebound.RunResumed)))
		t.runs[e.RunID] = &runSpan{ctx: rctx, span: span, steps: make(map[string]*stepSpan)}
	case rebound.StepStarted:
		r := t.run(ctx, e.RunID)
		if s := r.steps[e.Step]; s != nil {
			s.end(e.Time, codes.Unset, "")
		}
		sctx, span := t.tracer.Start(r.ctx, "rebound.step", trace.WithTimestamp(e.Time),
			trace.WithAttributes(AttrRunID.String(e.RunID), AttrStep.String(e.Step)))
		r.steps[e.Step] = &stepSpan{ctx: sctx, span: span, attemptStart: e.Time, attempt: 1}
	case rebound.StepSkipped:
		r := t.run(ctx, e.RunID)
		_, span := t.tracer.Start(r.ctx, "rebound.step", trace.WithTimestamp(e.Time),
			trace.WithAttributes(AttrRunID.String(e.RunID), AttrStep.String(e.Step), AttrSkipped.Bool(true)))
		span.End(trace.WithTimestamp(e.Time))
	case rebound.AttemptFailed:
		s := t.step(e)
		if s == nil {
			return
		}
		s.flush()
		if e.Attempt > 0 {
			s.attempt = e.Attempt
		}
		_, span := t.tracer.Start(s.ctx, "rebound.attempt", trace.WithTimestamp(s.attemptStart),
			trace.WithAttributes(AttrAttempt.Int(s.attempt), AttrClass.String(e.Class.String()), AttrModel.String(e.Model)))
		if e.Err != nil {
			span.RecordError(e.Err, trace.WithTimestamp(e.Time))
			span.SetStatus(codes.Error, e.Err.Error())
		} else {
			span.SetStatus(codes.Error, e.Class.String())
		}
		s.pending, s.pendingEnd = span, e.Time
		s.attempt++
		s.attemptStart = e.Time
	case rebound.RetryScheduled:
		s := t.step(e)
		if s == nil {
			return
		}
		if s.pending != nil {
			s.pending.SetAttributes(AttrDelayMS.Int64(e.Delay.Milliseconds()))
			s.flush()
		}
		s.span.AddEvent("retry_scheduled", trace.WithTimestamp(e.Time), trace.WithAttributes(
			AttrClass.String(e.Class.String()), AttrDelayMS.Int64(e.Delay.Milliseconds()), AttrModel.String(e.Model)))
		s.attemptStart = e.Time.Add(e.Delay)
	case rebound.BreakerChanged, rebound.FallbackUsed, rebound.GaveUp:
		attrs := []attribute.KeyValue{AttrModel.String(e.Model),
			attribute.String("rebound.from", e.From), attribute.String("rebound.to", e.To)}
		if e.Reason != "" {
			attrs = append(attrs, AttrReason.String(e.Reason))
		}
		if s := t.step(e); s != nil {
			s.span.AddEvent(string(e.Kind), trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
		} else if r := t.runs[e.RunID]; r != nil && r.span != nil {
			r.span.AddEvent(string(e.Kind), trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
		}
	case rebound.StepCompleted:
		s := t.step(e)
		if s == nil {
			return
		}
		s.flush()
		_, span := t.tracer.Start(s.ctx, "rebound.attempt", trace.WithTimestamp(s.attemptStart),
			trace.WithAttributes(AttrAttempt.Int(s.attempt), AttrModel.String(e.Model)))
		span.SetStatus(codes.Ok, "")
		span.End(trace.WithTimestamp(e.Time))
		s.end(e.Time, codes.Ok, "")
		delete(t.runs[e.RunID].steps, e.Step)
	case rebound.Escalated:
		if s := t.step(e); s != nil {
			s.span.SetAttributes(AttrReason.String(e.Reason), AttrEscalationID.String(e.EscalationID))
			s.end(e.Time, codes.Error, "escalated: "+e.Reason)
			delete(t.runs[e.RunID].steps, e.Step)
		}
		if r := t.runs[e.RunID]; r != nil && r.span != nil {
			r.span.SetAttributes(AttrReason.String(e.Reason), AttrEscalationID.String(e.EscalationID))
		}
		t.endRun(e.RunID, e.Time, codes.Error, "escalated: "+e.Reason)
	case rebound.RunCompleted:
		t.endRun(e.RunID, e.Time, codes.Ok, "")
	case rebound.RunFailed:
		msg := "failed"
		if e.Err != nil {
			msg = e.Err.Error()
		}
		t.endRun(e.RunID, e.Time, codes.Error, msg)
	}
}

// run returns the spans of a run, creating a parentless holder when the run's start was not seen.
func (t *Tracer) run(ctx context.Context, id string) *runSpan {
	r := t.runs[id]
	if r == nil {
		r = &runSpan{ctx: ctx, steps: make(map[string]*stepSpan)}
		t.runs[id] = r
	}
	return r
}

func (t *Tracer) step(e rebound.Event) *stepSpan {
	r := t.runs[e.RunID]
	if r == nil {
		return nil
	}
	return r.steps[e.Step]
}

func (t *Tracer) endRun(id string, at time.Time, code codes.Code, msg string) {
	r := t.runs[id]
	if r == nil {
		return
	}
	for _, s := range r.steps {
		s.end(at, codes.Unset, "")
	}
	if r.span != nil {
		r.span.SetStatus(code, msg)
		r.span.End(trace.WithTimestamp(at))
	}
	delete(t.runs, id)
}

// flush ends the failed attempt that was waiting for its retry decision.
func (s *stepSpan) flush() {
	if s.pending != nil {
		s.pending.End(trace.WithTimestamp(s.pendingEnd))
		s.pending = nil
	}
}

func (s *stepSpan) end(at time.Time, code codes.Code, msg string) {
	s.flush()
	if code != codes.Unset {
		s.span.SetStatus(code, msg)
	}
	s.span.End(trace.WithTimestamp(at))
}
