package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
