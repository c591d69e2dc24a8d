package observe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/observe"
)

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func TestTracerBuildsRunStepAttemptSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := observe.NewTracer(tp)
	h := tr.Hook()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, e := range []rebound.Event{
		{Time: at(0), Kind: rebound.RunStarted, RunID: "r1"},
		{Time: at(1), Kind: rebound.StepSkipped, RunID: "r1", Step: "outline"},
		{Time: at(2), Kind: rebound.StepStarted, RunID: "r1", Step: "section_1"},
		{Time: at(10), Kind: rebound.AttemptFailed, RunID: "r1", Step: "section_1", Attempt: 1, Model: "m", Class: rebound.ClassRateLimited, Err: errors.New("429")},
		{Time: at(10), Kind: rebound.RetryScheduled, RunID: "r1", Step: "section_1", Attempt: 1, Model: "m", Class: rebound.ClassRateLimited, Delay: 200 * time.Millisecond},
		{Time: at(250), Kind: rebound.StepCompleted, RunID: "r1", Step: "section_1", Model: "m"},
		{Time: at(251), Kind: rebound.StepStarted, RunID: "r1", Step: "publish"},
		{Time: at(260), Kind: rebound.Escalated, RunID: "r1", Step: "publish", Reason: "irreversible_action", EscalationID: "e1"},
	} {
		h(ctx, e)
	}
	spans := rec.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if len(byName["rebound.run"]) != 1 || len(byName["rebound.step"]) != 3 || len(byName["rebound.attempt"]) != 2 {
		t.Fatalf("spans: %d run, %d step, %d attempt; want 1, 3, 2",
			len(byName["rebound.run"]), len(byName["rebound.step"]), len(byName["rebound.attempt"]))
	}
	run := byName["rebound.run"][0]
	if run.Status().Code != codes.Error || !run.EndTime().Equal(at(260)) {
		t.Errorf("run span: status %v, end %v", run.Status(), run.EndTime())
	}
	failed, ok := byName["rebound.attempt"][0], false
	if v, has := attr(failed, observe.AttrClass); has && v.AsString() == "rate_limited" {
		ok = true
	}
	if !ok {
		t.Fatalf("first attempt span lacks class rate_limited: %v", failed.Attributes())
	}
	if v, _ := attr(failed, observe.AttrDelayMS); v.AsInt64() != 200 {
		t.Errorf("failed attempt delay_ms = %v, want 200", v.AsInt64())
	}
	if !failed.StartTime().Equal(at(2)) || !failed.EndTime().Equal(at(10)) {
		t.Errorf("failed attempt from %v to %v", failed.StartTime(), failed.EndTime())
	}
	second := byName["rebound.attempt"][1]
	if v, _ := attr(second, observe.AttrAttempt); v.AsInt64() != 2 {
		t.Errorf("second attempt number %v", v.AsInt64())
	}
	if !second.StartTime().Equal(at(210)) || second.Status().Code != codes.Ok {
		t.Errorf("second attempt starts %v (want after the wait), status %v", second.StartTime(), second.Status())
	}
	for _, a := range byName["rebound.attempt"] {
		if a.Parent().SpanID() != byName["rebound.step"][1].SpanContext().SpanID() {
			t.Errorf("attempt span not under the section_1 step span")
		}
	}
	for _, s := range byName["rebound.step"] {
		if s.Parent().SpanID() != run.SpanContext().SpanID() {
			t.Errorf("step span %v not under the run span", s.Attributes())
		}
	}
}
