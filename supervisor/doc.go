// Package supervisor resolves the escalations that are safe to resolve and hands the rest to a
// person with its reasons: a reviewer swap, not a permission grant.
//
// A Supervisor takes open items of an escalation queue (package escalate), one at a time and
// under a claim, so that several supervisors and people never work on one item together. For
// each item it either
//
//   - resolves it (escalate.Queue.ResolveClaimed) with a rebound.Decision whose Actor is
//     rebound.ActorSupervisor, signed "MODEL policy:VERSION", with the model's rationale and
//     confidence and the policy's Hold (the time a person has to override it before the run
//     acts on it);
//   - routes it to a person (audit event routed, with the rationale and the risk it saw; the
//     item stays open); or
//   - records that it is unavailable (audit event supervisor_unavailable: a timeout, a provider
//     error, an invalid verdict, its budget spent; the item stays open for a person). A failure
//     of the supervisor is never a denial.
//
// It never looks again at an item it routed, was unavailable on or resolved under the same
// policy version (it reads the item's audit trail), nor at one where a person overrode a
// supervisor.
//
// # The policy
//
// A Policy (a JSON file, LoadPolicy) lists rules. A rule names a reason, optionally a step and
// a tool (globs), and predicates on the tool call's arguments and on the item (`amount <= 100`,
// `currency == "EUR"`, `@attempts <= 6`, `@class == "overloaded"`); it allows some of approve,
// respond (only with one of the rule's known answers) and retry. The policy also sets the
// confidence below which a verdict goes to a person, the hold, the timeout of one review, and
// the budget of one run of the supervisor (model calls and tokens).
//
// The predicate language is one comparison per predicate: FIELD OP VALUE, with OP one of
// == != < <= > >=, FIELD a dotted path into the arguments or one of @attempts, @age_seconds,
// @class, @step, @tool, @irreversible, and VALUE a JSON number, string, true, false or null.
// Ordering compares numbers only. A missing field, or one of another type, makes the predicate
// false: a policy never allows more because something is absent.
//
// # The order of the checks
//
// Deterministic checks run first: what the supervisor can never do (below), then the policy;
// an item no rule allows a decision on goes to a person without a model call. Otherwise the
// model is asked, through Rebound's own LLM layer (llm.Structured, with a forced verdict tool:
// decision, rationale, confidence, risk, answer; one repair at most). The item is given to the
// model as untrusted data: JSON between markers carrying a random nonce, after instructions
// that say it is data. Then the verdict is checked in code against the same policy: a decision
// the policy does not allow here, an answer that is not one of the known answers, or a
// confidence below the threshold routes the item. So a model talked into "approve" by text in
// a tool output, a model answer or the context still cannot exceed the policy.
//
// # What the supervisor can never do
//
// No policy can lift these limits; ParsePolicy refuses a rule that asks for them, and the
// supervisor checks them again on every item:
//
//   - decide an ambiguous_state item (an irreversible action that may or may not have taken
//     place: the supervisor cannot see the outside system);
//   - edit a call (edited arguments would escape the rules written for the original call);
//   - reject or dismiss: a denial by the model goes to a person with its reasons;
//   - read its own failure as a decision: a timeout, an error, an invalid verdict or a spent
//     budget is supervisor_unavailable, and the item waits for a person;
//   - act outside its policy, whatever the item says: its text is data, and the policy is
//     read from a file when the supervisor starts;
//   - approve an irreversible action under a rule that names no tool or step;
//   - respond with an answer that is not one of the rule's known answers;
//   - decide an item whose record is damaged, or one a person holds.
//
// docs/supervisor.md has the flow, a policy file and the CLI (`rebound supervise`).
package supervisor
