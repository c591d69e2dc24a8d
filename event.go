package rebound

import (
	"context"
	"encoding/json"
	"time"
)

// EventKind names a run event. The names are the `event` field of the `rebound --json` output,
// a contract users script against (docs/cli.md, "JSON events").
type EventKind string

// The events. Retry emits AttemptFailed, RetryScheduled and GaveUp; breakers BreakerChanged;
// fallbacks FallbackUsed; durable runs the run and step events.
const (
	RunStarted     EventKind = "run_started"
	RunResumed     EventKind = "run_resumed"
	StepStarted    EventKind = "step_started"
	StepSkipped    EventKind = "step_skipped"
	AttemptFailed  EventKind = "attempt_failed"
	RetryScheduled EventKind = "retry_scheduled"
	GaveUp         EventKind = "gave_up"
	BreakerChanged EventKind = "breaker_changed"
	FallbackUsed   EventKind = "fallback_used"
	StepCompleted  EventKind = "step_completed"
	Escalated      EventKind = "escalated"
	RunCompleted   EventKind = "run_completed"
	RunFailed      EventKind = "run_failed"
	// The tool calls of an agent (package agent): Tool, CallID and Effect are set, and on
	// ToolFailed FailureClass.
	ToolStarted   EventKind = "tool_started"
	ToolCompleted EventKind = "tool_completed"
	ToolFailed    EventKind = "tool_failed"
)

// Event is something that happened while recovering. Fields that do not apply are zero.
type Event struct {
	Time  time.Time
	Kind  EventKind
	RunID string
	Step  string
	// Attempt counts from 1.
	Attempt int
	// Class is the failure's class, for AttemptFailed, RetryScheduled and GaveUp.
	Class Class
	// Status is a run's or step's status, or an HTTP status as text.
	Status string
	// Delay is the wait before the next attempt, for RetryScheduled.
	Delay time.Duration
	// Model names the dependency: a model ("anthropic/claude-x"), a tool, a breaker's key.
	Model string
	// From and To are breaker states for BreakerChanged, sources for FallbackUsed.
	From, To string
	// Reason is a give-up's or an escalation's reason.
	Reason       string
	EscalationID string
	Err          error
	// Tool, CallID and Effect name an agent's tool call: the tool, the model's call id and the
	// tool's declared effect ("read_only", "idempotent", "irreversible").
	Tool   string
	CallID string
	Effect string
	// FailureClass, when set, is the JSON "class" of the event instead of Class: a tool failure's
	// class, which may be one of package agent's own (invalid_input, unknown_tool, unavailable,
	// panic, rejected) rather than a Class.
	FailureClass string
}

type eventJSON struct {
	Time         time.Time `json:"time"`
	Event        EventKind `json:"event"`
	RunID        string    `json:"run_id,omitempty"`
	Step         string    `json:"step,omitempty"`
	Attempt      int       `json:"attempt,omitempty"`
	Class        string    `json:"class,omitempty"`
	Status       string    `json:"status,omitempty"`
	DelayMS      *int64    `json:"delay_ms,omitempty"`
	Model        string    `json:"model,omitempty"`
	From         string    `json:"from,omitempty"`
	To           string    `json:"to,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	EscalationID string    `json:"escalation_id,omitempty"`
	Error        string    `json:"error,omitempty"`
	Tool         string    `json:"tool,omitempty"`
	CallID       string    `json:"call_id,omitempty"`
	Effect       string    `json:"effect,omitempty"`
}

// MarshalJSON writes the event as one object with the field names of docs/cli.md ("JSON events"): time, event,
// run_id, step, attempt, class, status, delay_ms, model, from, to, reason, escalation_id, error,
// and for tool calls tool, call_id and effect.
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{
		Time: e.Time, Event: e.Kind, RunID: e.RunID, Step: e.Step, Attempt: e.Attempt,
		Status: e.Status, Model: e.Model, From: e.From, To: e.To, Reason: e.Reason,
		EscalationID: e.EscalationID, Tool: e.Tool, CallID: e.CallID, Effect: e.Effect,
	}
	if e.Err != nil {
		j.Error = e.Err.Error()
		j.Class = e.Class.String()
	} else if e.Class != ClassUnknown {
		j.Class = e.Class.String()
	}
	if e.FailureClass != "" {
		j.Class = e.FailureClass
	}
	if e.Kind == RetryScheduled || e.Delay > 0 {
		ms := e.Delay.Milliseconds()
		j.DelayMS = &ms
	}
	return json.Marshal(j)
}

// Hook receives events. It is called on the goroutine of the call that caused the event, with
// no lock of Rebound's held, so it may call back into the library; it must not block for long.
// A nil Hook is valid and does nothing.
type Hook func(ctx context.Context, e Event)

// Emit delivers e to h (if not nil) and then to the Hook of the Scope in ctx (if any), after
// filling in the event's Time (if zero) and its RunID and Step from that Scope (if empty). Every
// producer of events calls Emit, so that a durable run sees the retries, breaker changes and
// fallbacks of its steps without being wired to each of them.
func (h Hook) Emit(ctx context.Context, e Event) {
	s, _ := ctx.Value(scopeKey{}).(Scope)
	if h == nil && s.Hook == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.RunID == "" {
		e.RunID = s.RunID
	}
	if e.Step == "" {
		e.Step = s.Step
	}
	if h != nil {
		h(ctx, e)
	}
	if s.Hook != nil {
		s.Hook(ctx, e)
	}
}

// Hooks returns a Hook that calls each non-nil hook in order.
func Hooks(hs ...Hook) Hook {
	var live []Hook
	for _, h := range hs {
		if h != nil {
			live = append(live, h)
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	return func(ctx context.Context, e Event) {
		for _, h := range live {
			h(ctx, e)
		}
	}
}

// Scope is where in a durable run a call is made. Package checkpoint puts it in the context of
// every step, so that events of retries, breakers and fallbacks deep inside a step name their
// run and step without being passed them.
type Scope struct {
	RunID string
	Step  string
	// Hook, if set, receives every event emitted under this scope (see Hook.Emit), in addition
	// to the producer's own hook.
	Hook Hook
}

type scopeKey struct{}

// WithScope returns a context carrying s.
func WithScope(ctx context.Context, s Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeFrom returns the Scope in ctx, or the zero Scope.
func ScopeFrom(ctx context.Context) Scope {
	s, _ := ctx.Value(scopeKey{}).(Scope)
	return s
}
