package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/pipeline"
)

// The classes of a failed tool call that are the agent's own; a failure of the handler has the
// class of its error (rebound.Classify: timeout, transient, invalid, unknown, ...).
const (
	// ClassInvalidInput: the arguments do not match the tool's input schema.
	ClassInvalidInput = "invalid_input"
	// ClassUnknownTool: the model called a tool the agent does not have.
	ClassUnknownTool = "unknown_tool"
	// ClassUnavailable: the tool's breaker is open or its retries are spent.
	ClassUnavailable = "unavailable"
	// ClassPanic: the handler panicked.
	ClassPanic = "panic"
	// ClassRejected: a reviewer rejected the call (or its result).
	ClassRejected = "rejected"
)

// Outcome is what one tool call came to: the record journaled as the call's step result, from
// which the tool-result block sent to the model is made (Block) and the loop guards count.
type Outcome struct {
	CallID string `json:"call_id"`
	Tool   string `json:"tool"`
	Effect string `json:"effect,omitempty"`
	// Input is the arguments the call ran with (canonical JSON): the edited ones after an edit.
	Input json.RawMessage `json:"input"`
	// OriginalTool and OriginalInput are the model's call when a reviewer edited it.
	OriginalTool  string          `json:"original_tool,omitempty"`
	OriginalInput json.RawMessage `json:"original_input,omitempty"`
	// Content is what the model is sent: the result, or the error it can act on.
	Content string `json:"content"`
	IsError bool   `json:"is_error,omitempty"`
	// Class is a failure's class (ClassInvalidInput, ..., or a rebound.Class's name).
	Class string `json:"class,omitempty"`
	// Error is the failure as it happened (Content is what the model is told).
	Error string `json:"error,omitempty"`
	// Confidence is what the result reported (nil: nothing).
	Confidence *float64 `json:"confidence,omitempty"`
	// Decision and By are a reviewer's decision on the call, if there was one.
	Decision string `json:"decision,omitempty"`
	By       string `json:"by,omitempty"`
	// AnsweredBy names the fallback tool that answered, if one did.
	AnsweredBy string `json:"answered_by,omitempty"`
	// Key is the call's idempotency key.
	Key string `json:"key,omitempty"`
	// Executed says whether the handler ran (or was started).
	Executed bool `json:"executed,omitempty"`
}

// Block returns the tool-result block of the outcome.
func (o Outcome) Block() rebound.Block { return rebound.ToolResult(o.CallID, o.Content, o.IsError) }

func failed(o Outcome, class, content string, err error) Outcome {
	o.IsError, o.Class, o.Content = true, class, content
	if err != nil {
		o.Error = err.Error()
	}
	return o
}

// panicError is a handler's panic, recovered.
type panicError struct {
	v     any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("tool panicked: %v", e.v) }

// invoke runs the handler once, turning a panic into an error.
func invoke(ctx context.Context, t *tool, call Call, in any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, rebound.Permanent(&panicError{v: r, stack: debug.Stack()})
		}
	}()
	return t.Handler.run(ctx, call, in)
}

// attempt runs a call through the tool's pipeline (package pipeline: retry, breaker, attempt
// timeout, the handler). An irreversible tool's failure that does not show the call was refused
// before it took effect is never retried: its policy retries refused classes only, and a
// handler's error marked Transient is marked Permanent again.
func attempt(ctx context.Context, t *tool, call Call, in any) (any, error) {
	return pipeline.Do(ctx, t.pipe, pipeline.Call[any]{}, func(ctx context.Context) (any, error) {
		v, err := invoke(ctx, t, call, in)
		if err != nil && t.Effect == Irreversible && !refused(ctx, err) {
			err = rebound.Permanent(err)
		}
		return v, err
	})
}

// refused reports whether err shows that a call was refused before it could take effect: the
// breaker refused it, or the dependency said so (rate limited, overloaded, quota, auth, invalid,
// content policy). A timeout, a cut connection, a 5xx, a malformed answer, a panic or an
// unknown error does not.
func refused(ctx context.Context, err error) bool {
	var open *breaker.OpenError
	if errors.As(err, &open) {
		return true
	}
	var p *panicError
	if errors.As(err, &p) {
		return false
	}
	c, _ := rebound.ClassifyContext(ctx, err)
	return refusedClass(c)
}

func refusedClass(c rebound.Class) bool {
	switch c {
	case rebound.ClassRateLimited, rebound.ClassOverloaded, rebound.ClassQuota, rebound.ClassAuth,
		rebound.ClassInvalid, rebound.ClassContentPolicy:
		return true
	}
	return false
}

// unavailable reports whether err says the tool cannot be reached now: the breaker refused the
// call or opened on it, or the retries were spent on failures a retry could mend.
func unavailable(err error) bool {
	if errors.Is(err, rebound.ErrCircuitOpen) {
		return true
	}
	var g *rebound.GiveUpError
	if errors.As(err, &g) {
		switch g.Reason {
		case rebound.Exhausted, rebound.BreakerOpen, rebound.BudgetExhausted, rebound.ElapsedExceeded, rebound.HintTooLong:
			return true
		}
	}
	return false
}

// run executes a valid call of t and returns its outcome, or an error that stops the run (an
// escalation, or the caller's context ending). fallbacks guards against a cycle of fallbacks.
func (a *Agent) run(ctx context.Context, t *tool, call Call, in any, o Outcome, seen map[string]bool) (Outcome, error) {
	o.Executed = true
	v, err := attempt(ctx, t, call, in)
	if err == nil {
		return a.succeeded(o, v)
	}
	var esc *checkpoint.EscalateError
	if errors.As(err, &esc) {
		return o, err
	}
	if ctx.Err() != nil {
		return o, err
	}
	class, _ := rebound.ClassifyContext(ctx, err)
	cls := class.String()
	var p *panicError
	if errors.As(err, &p) {
		cls = ClassPanic
	}
	if t.Effect == Irreversible && !refused(ctx, err) {
		return o, checkpoint.Escalate(rebound.ReasonAmbiguousState, ambiguousText(t, call, cls), err)
	}
	if unavailable(err) {
		if fb := a.tools[t.Fallback]; fb != nil && !seen[fb.Name] {
			seen[fb.Name] = true
			if fin, ferr := fb.Handler.decode(call.Input); ferr == nil && fb.schema.validate(call.Input) == nil {
				fo, ferr := a.run(ctx, fb, Call{ID: call.ID, Tool: fb.Name, Input: call.Input, Key: call.Key, Fence: call.Fence}, fin, o, seen)
				if ferr != nil || !fo.IsError {
					fo.AnsweredBy = fb.Name
					return fo, ferr
				}
			}
		}
		if t.EscalateUnavailable {
			return o, checkpoint.Escalate(rebound.ReasonMaxRetriesExceeded,
				fmt.Sprintf("tool %s is unavailable; the model's call %s was %s %s", t.Name, call.ID, t.Name, call.Input), err)
		}
		return failed(o, ClassUnavailable, fmt.Sprintf("Error: tool %s is unavailable right now (%v). Do not call it again at once: take another path, or try it again later.", t.Name, err), err), nil
	}
	if cls == ClassPanic {
		return failed(o, ClassPanic, fmt.Sprintf("Error: tool %s failed (%v). This is a fault of the tool, not of your arguments.", t.Name, p), err), nil
	}
	return failed(o, cls, fmt.Sprintf("Error: tool %s failed: %v", t.Name, err), err), nil
}

func ambiguousText(t *tool, call Call, cls string) string {
	return fmt.Sprintf("The irreversible tool %s failed (%s) in a way that does not say whether it took effect. "+
		"Call %s: %s %s (idempotency key %s). Approve runs it again; respond gives its result; reject tells the model it did not happen; edit runs it with other arguments.",
		t.Name, cls, call.ID, t.Name, call.Input, call.Key)
}

// confident is a result that reports its confidence.
type confident interface{ Confidence() float64 }

func (a *Agent) succeeded(o Outcome, v any) (Outcome, error) {
	if c, ok := v.(confident); ok {
		f := c.Confidence()
		o.Confidence = &f
	}
	switch x := v.(type) {
	case string:
		o.Content = x
	case json.RawMessage:
		o.Content = string(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return failed(o, rebound.ClassMalformed.String(), fmt.Sprintf("Error: tool %s returned a result that cannot be encoded", o.Tool), err), nil
		}
		o.Content = string(b)
	}
	return o, nil
}

// StepOutcome decodes the recorded result of a tool call's step ("tool:CALL_ID"), for the CLI and
// the dashboard that show a run's tool calls; ok is false for any other step or a result that
// is not an Outcome.
func StepOutcome(step string, result []byte) (o Outcome, ok bool) {
	if !strings.HasPrefix(step, "tool:") || len(result) == 0 {
		return Outcome{}, false
	}
	if err := json.Unmarshal(result, &o); err != nil || o.CallID == "" {
		return Outcome{}, false
	}
	return o, true
}
