// Package escalate is the escalation queue: what a run cannot resolve by itself (retries
// exhausted, an action that may or may not have happened, low confidence, an irreversible action
// that needs approval, a question only a person can answer) is parked durably with everything a
// reviewer needs, redacted, until a person or a supervising agent decides; the run then resumes
// with the decision.
//
// An [Item] records the run and step, the reason (a rebound.EscalationReason), the error and
// its class, a snapshot of the run's state and its recent messages, free-text context,
// timestamps, its [Status] (open, claimed, resolved, dismissed), who holds it and the decision
// (a rebound.Decision). Every change is kept in an audit trail ([Queue.Audit]).
//
// A [Queue] over a [Store] files items ([Queue.Escalate]), lists them ([Queue.List]: open first,
// oldest first, filtered by status, reason, run and age), lets a reviewer claim one for a while
// ([Queue.Claim]; two reviewers cannot both hold it, an expired claim can be taken), and records
// the decision ([Queue.Resolve]: approve, reject, respond with an answer, retry; or
// [Queue.Dismiss], which the run treats as a reject; [Queue.Reopen] undoes either).
// [Queue.Stats] gives the depth and the age of the oldest waiting item per reason, for alerts.
//
// Errors are typed and match three sentinels a front end maps to HTTP statuses: [ErrNotFound]
// (404), [ErrConflict] (409: claimed by someone else, or already decided) and [ErrInvalid] (400:
// an unknown action, a respond without an answer, no reviewer named).
//
// Nothing reaches the store unredacted: a [Redactor] removes API keys (Anthropic, OpenAI, any
// sk-… key), bearer tokens, Authorization and x-api-key values, in text and in JSON, and the
// fields named in [Config.RedactFields]. A checkpoint.Runner whose Escalations is a Queue
// redacts the error texts it journals by the same rules ([Queue.RedactText]); the run's messages
// and workflow input are journaled as they are, since a resumed run needs them.
//
// A Queue implements checkpoint.Escalator, the interface a durable run escalates through:
//
//	store, err := sqlite.Open(ctx, "rebound.db")
//	queue := escalate.NewQueue(store, escalate.Config{Notifier: escalate.NewWebhook(url, escalate.WebhookConfig{})})
//	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue})
//	err = runner.Run(ctx, "report-001", workflow) // errors.Is(err, checkpoint.ErrEscalated)
//	...
//	queue.Claim(ctx, id, "ana", 10*time.Minute)
//	queue.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionRespond, Answer: "…", By: "ana"})
//	err = runner.Run(ctx, "report-001", workflow) // the step receives the answer; the run completes
//
// Escalating a step that already has a waiting item returns that item: a run that crashes
// after escalating, and escalates again on resume, files one item.
//
// The vocabulary a run and a reviewer share (rebound.Escalation, rebound.EscalationReason,
// rebound.Action, rebound.Decision) is declared once, in the root package, so that package
// checkpoint and this one do not import each other.
//
// # For store authors
//
// A store implements [Store] (and, to skip locked rows, [NextStore]): [Item]s with their
// [AuditEntry] trail, selected by a [Filter], counted as [ReasonStats], refusing a second
// waiting item for one step with a [DuplicateError]. Its methods carry "Escalation"
// (InsertEscalation, UpdateEscalation, ...) so that one database store can also implement
// checkpoint.Store, whose methods carry "Run". Nothing else in this package is store-facing.
//
// Stores: [MemoryStore] here; store/sqlite and store/postgres for durable queues, where one
// database holds both the run journal and the queue. Every store passes the conformance suite
// in package escalatetest. A change of an item is one transaction that locks it (an immediate
// transaction on SQLite, a row lock on PostgreSQL), so of two reviewers claiming one item
// exactly one wins; [Queue.ClaimNext] on PostgreSQL skips the rows others hold ([NextStore]).
package escalate
