package escalate

import "github.com/rebound-go/rebound/checkpoint"

// The vocabulary shared with package checkpoint, which defines it: what a run hands to the
// queue, and what a reviewer decides. These are aliases, so a checkpoint.Decision and an
// escalate.Decision are one type.

// Escalation is what a durable run hands to the queue when a step cannot go on by itself: run
// and step, reason, error and class, attempts, recent messages, a JSON state snapshot and free
// text for the reviewer.
type Escalation = checkpoint.Escalation

// Action is a reviewer's decision: ActionApprove, ActionReject, ActionRespond, ActionEdit or
// ActionRetry.
type Action = checkpoint.Action

// The decisions.
const (
	// ActionApprove lets an irreversible or in-doubt step run (once).
	ActionApprove = checkpoint.ActionApprove
	// ActionReject fails the run with the reviewer's note as the reason.
	ActionReject = checkpoint.ActionReject
	// ActionRespond makes Decision.Answer the escalated step's result.
	ActionRespond = checkpoint.ActionRespond
	// ActionRetry runs the step again with a fresh retry budget.
	ActionRetry = checkpoint.ActionRetry
	// ActionEdit runs an agent's tool call with Decision.Answer (a JSON object) as its edited
	// arguments; the original arguments stay in the item.
	ActionEdit = checkpoint.ActionEdit
)

// Decision is what a reviewer decided about an item: the Action, the Answer (for respond), a
// Note (for reject, the reason the run fails with) and By, who decided. A dismissed item reads
// as a reject whose note is the dismissal's.
type Decision = checkpoint.Decision

var _ checkpoint.Escalator = (*Queue)(nil)
