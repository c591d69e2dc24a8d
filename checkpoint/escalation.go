package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
)

// The escalation reasons this package uses. A step may escalate with a reason of its own.
const (
	// ReasonMaxRetriesExceeded: an automatic give-up (retries exhausted, breaker open with no
	// fallback left, retry budget spent). The give-up's own reason is in the escalation's error.
	ReasonMaxRetriesExceeded = "max_retries_exceeded"
	// ReasonAmbiguousState: an irreversible step was in doubt on resume (intent, no result).
	ReasonAmbiguousState = "ambiguous_state"
	// ReasonLowConfidence and ReasonRequiresHuman are for steps to use with Escalate.
	ReasonLowConfidence = "low_confidence"
	ReasonRequiresHuman = "requires_human"
	// ReasonIrreversibleAction: a step marked NeedsApproval asks before it runs.
	ReasonIrreversibleAction = "irreversible_action"

	// The reasons of package agent's guards: an agent loop that goes round in circles or runs
	// away is stopped in front of a person ("the model is stuck in a loop").

	// ReasonLoopDetected: the same tool call (tool and canonical arguments) came back with the
	// same result again and again.
	ReasonLoopDetected = "loop_detected"
	// ReasonRepeatedFailure: the same tool call failed again and again, or a tool refused the
	// model's input again and again in a row.
	ReasonRepeatedFailure = "repeated_failure"
	// ReasonAlternatingCalls: two tool calls alternated, each with the same result every time.
	ReasonAlternatingCalls = "alternating_calls"
	// ReasonMaxTurns: the agent reached its maximum number of model turns.
	ReasonMaxTurns = "max_turns_exceeded"
	// ReasonBudgetExceeded: the agent spent its token or cost budget.
	ReasonBudgetExceeded = "budget_exceeded"
)

// Escalation is what the Runner hands an Escalator when a step cannot go on without a person.
type Escalation struct {
	RunID  string
	Step   string
	Reason string
	Class  rebound.Class
	Err    error
	// Attempts is how many attempts the step made before it gave up (0 when it did not run).
	Attempts int
	// Messages is the run's history up to the step.
	Messages []rebound.Message
	// State is a JSON snapshot of the run: workflow, input, step, completed steps.
	State json.RawMessage
	// Context is free text from the step (see Escalate).
	Context string
}

// Action is a reviewer's decision on an escalation.
type Action string

// The actions.
const (
	// ActionApprove: run the step (an irreversible or in-doubt step executes, once).
	ActionApprove Action = "approve"
	// ActionReject: fail the run, with the reviewer's note as the reason.
	ActionReject Action = "reject"
	// ActionRespond: the Answer becomes the step's result (as-is for a string step, otherwise
	// decoded from JSON).
	ActionRespond Action = "respond"
	// ActionRetry: run the step again with a fresh retry budget.
	ActionRetry Action = "retry"
	// ActionEdit: run the step with the Answer (a JSON object) as its edited input. Only steps
	// that decide for themselves (DecidesItself: package agent's tool calls) accept it; the
	// original input stays in the escalation's audit trail.
	ActionEdit Action = "edit"
)

// Decision is how an escalation was resolved.
type Decision struct {
	Action Action
	Answer string
	Note   string
	By     string
}

// Escalator parks escalations and reports their decisions. Package escalate's Queue implements
// it. Both methods may be called with the run's lease held.
type Escalator interface {
	// Escalate records e and returns its ID.
	Escalate(ctx context.Context, e Escalation) (id string, err error)
	// Decision returns the decision on the escalation id, with decided false while it is open.
	Decision(ctx context.Context, id string) (d Decision, decided bool, err error)
}

// EscalateError is what Escalate returns: a step returns it to send its run to a person.
type EscalateError struct {
	Reason  string
	Context string
	Err     error
}

func (e *EscalateError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("escalate (%s): %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("escalate (%s)", e.Reason)
}

// Unwrap returns the failure being escalated.
func (e *EscalateError) Unwrap() error { return e.Err }

// Escalate returns an error that, returned by a step's function, escalates the run with the
// given reason (ReasonLowConfidence, ReasonRequiresHuman, or a caller's own) and free-text
// context for the reviewer. err, which may be nil, is the failure to show.
func Escalate(reason, contextText string, err error) error {
	if reason == "" {
		reason = ReasonRequiresHuman
	}
	return &EscalateError{Reason: reason, Context: contextText, Err: err}
}

// defaultEscalateOn escalates automatic give-ups: retries spent and breakers open.
func defaultEscalateOn(_ rebound.Class, err error) bool {
	return errors.Is(err, rebound.ErrGaveUp) || errors.Is(err, rebound.ErrCircuitOpen)
}

// escalate parks the step with the Escalator and stops the run.
func (run *Run) escalate(ctx context.Context, base StepRecord, reason, text string, cause error, attempts int, st *stepState) error {
	esc := run.r.cfg.Escalations
	class, _ := rebound.Classify(cause)
	if esc == nil {
		err := fmt.Errorf("run %q step %q must escalate (%s) but the runner has no Escalator", run.id, base.Name, reason)
		if cause != nil {
			err = fmt.Errorf("%w: %w", err, cause)
		}
		failed := base
		failed.Status, failed.Error, failed.Class, failed.Reason, failed.FinishedAt = StepFailed, run.r.errText(err), class.String(), reason, time.Now()
		if reason == ReasonAmbiguousState {
			// In doubt: keep it so, for the next resume to escalate.
			return run.stop(err)
		}
		if werr := run.record(context.WithoutCancel(ctx), failed, st); werr != nil {
			return run.stop(errors.Join(err, werr))
		}
		return run.stop(err)
	}
	e := Escalation{
		RunID: run.id, Step: base.Name, Reason: reason, Class: class, Err: cause,
		Attempts: attempts, Messages: run.Messages(), State: run.state(base), Context: text,
	}
	id, err := esc.Escalate(ctx, e)
	if err != nil {
		return run.stop(fmt.Errorf("run %q step %q: escalate (%s): %w", run.id, base.Name, reason, err))
	}
	rec := base
	rec.Status, rec.Reason, rec.EscalationID, rec.Class = StepEscalated, reason, id, class.String()
	rec.Result, rec.Checksum = nil, 0
	if cause != nil {
		rec.Error = run.r.errText(cause)
	}
	rec.FinishedAt = time.Now()
	if err := run.record(context.WithoutCancel(ctx), rec, st); err != nil {
		return run.stop(err)
	}
	run.r.emit(ctx, rebound.Event{Kind: rebound.Escalated, RunID: run.id, Step: base.Name, Reason: reason,
		EscalationID: id, Class: class, Err: cause, Status: string(StatusEscalated)})
	return run.stop(&EscalatedError{RunID: run.id, Step: base.Name, EscalationID: id, Reason: reason, Err: cause})
}

// state is the JSON snapshot of the run handed to an escalation.
func (run *Run) state(at StepRecord) json.RawMessage {
	run.mu.Lock()
	var done []string
	for _, s := range run.steps {
		if s.Status == StepCompleted {
			done = append(done, s.Name)
		}
	}
	run.mu.Unlock()
	b, _ := json.Marshal(struct {
		RunID          string          `json:"run_id"`
		Workflow       string          `json:"workflow,omitempty"`
		Input          json.RawMessage `json:"input,omitempty"`
		Step           string          `json:"step"`
		Index          int             `json:"index"`
		Key            string          `json:"idempotency_key"`
		Irreversible   bool            `json:"irreversible,omitempty"`
		Executions     int             `json:"executions"`
		CompletedSteps []string        `json:"completed_steps"`
	}{run.id, run.info.Workflow, run.info.Input, at.Name, at.Index, at.Key, at.Irreversible, at.Executions, done})
	return b
}
