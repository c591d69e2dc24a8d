package rebound

import (
	"encoding/json"
	"time"
)

// The escalation vocabulary: what a durable run (package checkpoint) hands to the escalation
// queue (package escalate) when a step cannot go on by itself, and what a reviewer decides.
// Both packages use these types; neither declares its own.

// EscalationReason says why a step was escalated. The constants are the reasons Rebound itself
// files; a step may use its own (a short snake_case word such as "refund_over_limit").
type EscalationReason string

// The reasons Rebound files.
const (
	// ReasonMaxRetriesExceeded: a step gave up by itself (retries exhausted, the breaker open
	// with no fallback left, the retry budget spent). The give-up's own reason is in the
	// escalation's error.
	ReasonMaxRetriesExceeded EscalationReason = "max_retries_exceeded"
	// ReasonAmbiguousState: an irreversible step was interrupted after its intent was recorded
	// and before its result: the action may or may not have happened.
	ReasonAmbiguousState EscalationReason = "ambiguous_state"
	// ReasonLowConfidence: a step's answer was not good enough to act on.
	ReasonLowConfidence EscalationReason = "low_confidence"
	// ReasonRequiresHuman: only a person can answer.
	ReasonRequiresHuman EscalationReason = "requires_human"
	// ReasonIrreversibleAction: a step declared that it needs approval before it runs.
	ReasonIrreversibleAction EscalationReason = "irreversible_action"

	// The reasons of package agent's guards: an agent loop that goes round in circles or runs
	// away stops in front of a person ("the model is stuck in a loop").

	// ReasonLoopDetected: the same tool call (tool and canonical arguments) came back with the
	// same result again and again.
	ReasonLoopDetected EscalationReason = "loop_detected"
	// ReasonRepeatedFailure: the same tool call failed again and again, or a tool refused the
	// model's arguments again and again in a row.
	ReasonRepeatedFailure EscalationReason = "repeated_failure"
	// ReasonAlternatingCalls: two tool calls alternated, each with the same result every time.
	ReasonAlternatingCalls EscalationReason = "alternating_calls"
	// ReasonMaxTurns: an agent reached its maximum number of model turns.
	ReasonMaxTurns EscalationReason = "max_turns_exceeded"
	// ReasonBudgetExceeded: an agent spent its token or cost budget.
	ReasonBudgetExceeded EscalationReason = "budget_exceeded"
)

// Escalation is what a durable run hands to an escalation queue when a step cannot go on
// without a person: run and step, reason, error and class, attempts, the run's messages, a JSON
// state snapshot and free text for the reviewer.
type Escalation struct {
	RunID  string
	Step   string
	Reason EscalationReason
	Class  Class
	Err    error
	// Attempts is how many attempts the step made before it gave up (0 when it did not run).
	Attempts int
	// Messages is the run's history up to the step.
	Messages []Message
	// State is a JSON snapshot of the run: workflow, input, step, completed steps.
	State json.RawMessage
	// Context is free text from the step, for the reviewer.
	Context string
	// LeaseOwner and LeaseEpoch name the lease of the worker filing the escalation (package
	// checkpoint fills them in, after confirming the lease). A store that keeps the run's
	// journal too (store/sqlite, store/postgres) files the item only while the run is still
	// held under that lease, checked in the filing transaction; otherwise filing fails with
	// the store's stale-epoch error (checkpoint.ErrStaleEpoch) and nothing is filed.
	LeaseOwner string
	LeaseEpoch int64
}

// Action is what a reviewer decided to do with an escalated step.
type Action string

// The actions.
const (
	// ActionApprove: run the step (an irreversible or in-doubt step executes, once).
	ActionApprove Action = "approve"
	// ActionReject: fail the run, with the reviewer's note as the reason.
	ActionReject Action = "reject"
	// ActionRespond: the Answer becomes the step's result (as-is for a text step: a string, or
	// a checkpoint.AnswerUnmarshaler; otherwise decoded from JSON). escalate.Queue refuses, when
	// it is given, an answer that cannot (see checkpoint.AnswerSpec).
	ActionRespond Action = "respond"
	// ActionRetry: run the step again with a fresh retry budget.
	ActionRetry Action = "retry"
	// ActionEdit: run the step with the Answer (a JSON object) as its edited input. Only steps
	// that decide for themselves (checkpoint.DecidesItself: package agent's tool calls) accept
	// it; the original input stays in the audit trail.
	ActionEdit Action = "edit"
)

// Decision is how an escalation was resolved: the Action, the Answer (for respond), a Note (for
// reject, the reason the run fails with) and By, who decided. A dismissed escalation reads as a
// reject whose note is the dismissal's.
type Decision struct {
	Action Action
	Answer string
	Note   string
	// By names who decided: a person's name, or for a supervisor its model and policy version
	// ("claude-sonnet-4-5 policy:v3").
	By string
	// Actor is the kind of decider: ActorPerson (the zero value reads as a person) or
	// ActorSupervisor.
	Actor Actor
	// Rationale is why, in the decider's words (a supervisor always gives one).
	Rationale string
	// Confidence is a supervisor's confidence in its verdict, from 0 to 1 (0 for a person).
	Confidence float64
	// Hold, for a supervisor's decision, is how long the run waits before it acts on the
	// decision; until then a person may override it. 0: the run may act at once.
	Hold time.Duration
}

// Actor is the kind of decider of an escalation.
type Actor string

// The actors.
const (
	// ActorPerson: a person decided (the default when Actor is empty).
	ActorPerson Actor = "person"
	// ActorSupervisor: a supervising model decided, within its policy.
	ActorSupervisor Actor = "supervisor"
)
