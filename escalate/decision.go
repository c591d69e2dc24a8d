package escalate

import (
	"context"
	"encoding/json"

	"github.com/rebound-go/rebound"
)

// The vocabulary shared with package checkpoint: what a run hands to the queue, and what a
// reviewer decides. Until package checkpoint is committed these are defined here with the agreed
// fields; they become aliases of checkpoint's types then, so code written against them keeps
// compiling.

// Escalation is what a durable run hands to the queue when a step cannot go on by itself.
type Escalation struct {
	RunID, Step string
	// Reason is a Reason's name: one of the constants of this package or the caller's own.
	Reason string
	// Class is the failure's class; when zero and Err is set, the queue classifies Err.
	Class    rebound.Class
	Err      error
	Attempts int
	// Messages are the run's recent messages.
	Messages []rebound.Message
	// State is a JSON snapshot of the run's state.
	State json.RawMessage
	// Context is free text for the reviewer.
	Context string
}

// Action is a reviewer's decision.
type Action string

// The decisions.
const (
	// ActionApprove lets an irreversible step run.
	ActionApprove Action = "approve"
	// ActionReject fails the run with the reviewer's note as the reason.
	ActionReject Action = "reject"
	// ActionRespond makes Decision.Answer the escalated step's result.
	ActionRespond Action = "respond"
	// ActionRetry runs the step again with a fresh retry budget.
	ActionRetry Action = "retry"
)

// Decision is what a reviewer decided about an item.
type Decision struct {
	Action Action
	// Answer is the step's result for ActionRespond.
	Answer string
	// Note is the reviewer's note; for ActionReject the run fails with it as the reason.
	Note string
	// By names who decided.
	By string
}

// Escalator is the interface of package checkpoint that a Queue implements.
type Escalator interface {
	Escalate(ctx context.Context, e Escalation) (id string, err error)
	Decision(ctx context.Context, id string) (d Decision, decided bool, err error)
}
