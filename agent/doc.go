// Package agent is a durable tool-calling loop: a model and its tools run inside a
// checkpoint.Run, so that a crash, a tool outage, a malformed tool call or a model going round in
// circles never repeats an irreversible action, never loses paid work, and ends in front of a
// person when it cannot be recovered.
//
//	refund := agent.Tool{
//		Name: "issue_refund", Description: "Refund an order.",
//		Effect:   agent.Irreversible,
//		Approval: agent.When("amount_cents > 5000", func(in Refund) bool { return in.AmountCents > 5000 }),
//		Handler: agent.Handle(func(ctx context.Context, call agent.Call, in Refund) (string, error) {
//			return payments.Refund(ctx, in.OrderID, in.AmountCents, call.Key)
//		}),
//	}
//	a, err := agent.New(agent.Config{Model: model, Tools: []agent.Tool{lookup, refund}})
//	...
//	err = runner.Run(ctx, ticketID, func(ctx context.Context, run *checkpoint.Run) error {
//		res, err := a.Run(ctx, run, rebound.User(ticket))
//		...
//	})
//
// # The journal
//
// Each model turn is a step ("turn:N") whose result is the answer, journaled with the assistant
// message; each tool call is a step ("tool:ID", keyed by the model's call id) whose result is the
// call's Outcome; the turn's results go into the history as one message of tool-result blocks,
// one per call, in the order of the calls, whatever happened to each (a call is never left
// without a result: the next request would be refused). A call's idempotency key (Call.Key) is
// derived from the run and the call, the same on every attempt and every resume. A resumed run
// replays the journal (no model turn is asked again, no finished call runs again) and goes on at
// the first unfinished call. Approvals ("approve:ID"), guards ("guard:N") and confidence checks
// ("confidence:ID") are steps too, so that a decision, once taken, is replayed.
//
// # Failures
//
// A failed call is answered with an error result the model can act on, or escalates, by class:
//
//	failure                                   read-only / idempotent             irreversible
//	----------------------------------------  ---------------------------------  -------------------------------------
//	arguments do not match the schema         error result naming each problem   same (the handler never runs)
//	  ... InvalidInput (3) times in a row     escalate repeated_failure          same
//	unknown tool name                         error result naming the tools      -
//	transient (5xx, reset) or timeout         retried inside the step (Retry),   in doubt: escalate ambiguous_state
//	                                          then as "retries exhausted"        with the exact call; never re-run
//	rate limited, overloaded                  retried, then as "retries          retried (refused: it did not happen),
//	                                          exhausted"                         then as "retries exhausted"
//	other 4xx (invalid, auth, quota)          error result "tool failed: ..."    same (refused: it did not happen)
//	malformed answer, unknown error           error result "tool failed: ..."    in doubt: escalate ambiguous_state
//	breaker open, retries exhausted           the Fallback tool if any; else     same (a breaker that refused the
//	                                          error result "tool is              call is not in doubt)
//	                                          unavailable", or escalate
//	                                          max_retries_exceeded with
//	                                          EscalateUnavailable
//	handler panic                             error result (class panic)         in doubt: escalate ambiguous_state
//	crash while the call runs                 re-run with the same key           in doubt: escalate ambiguous_state
//	the caller's context ends                 the run stops; resume re-runs it   the run stops; resume escalates
//
// An error result is a tool-result block with is_error set; its Outcome keeps the class
// (ClassInvalidInput, ClassUnknownTool, ClassUnavailable, ClassPanic, ClassRejected, or the
// rebound.Class of the handler's error) and the error as it happened.
//
// # Approvals
//
// A tool's Approval (Always, or When with a predicate on the input) makes a call escalate
// irreversible_action before it runs, with the tool, its exact arguments, its effect, what the
// model said before the call and what approving will do. The decisions: approve runs the call
// once; reject answers it with an error result carrying the reviewer's note, and the run goes on
// (the model is told; the run does not fail); respond makes the reviewer's answer the call's
// result; edit runs the call with the answer as its arguments (a JSON object, or {"tool": NAME,
// "arguments": {...}} to call another tool), the model's original call kept in the Outcome; an
// edit to another tool whose own Approval asks for it, or an edit that does not validate, asks
// again. The same decisions apply to a call in doubt (ambiguous_state).
//
// # Loops and runaways
//
// Limits bound the loop: model turns (max_turns_exceeded), the same call with the same result
// (loop_detected), the same call failing (repeated_failure), two calls alternating with the same
// results (alternating_calls), tokens and cost (budget_exceeded). A conversation that looks alike
// but progresses (other arguments, or other results) does not fire. The counters are derived from
// the journal, so a crash does not reset them. A tool result or a final answer with a confidence
// under Config.MinConfidence escalates low_confidence.
//
// # Events
//
// Each call that runs emits rebound.ToolStarted, then rebound.ToolCompleted or
// rebound.ToolFailed (with FailureClass), each with Tool, CallID and Effect, through the step's
// rebound.Scope (so a Runner's Hook and `rebound --json` see them) and Config.Hook.
package agent
