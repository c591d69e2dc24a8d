// Package checkpoint makes multi-step runs durable: every step is journaled, a crashed or
// stopped run resumes at its first unfinished step with its message history intact, and a
// completed side effect is never repeated.
//
// A Runner executes a Workflow under a run ID; the same ID resumes. Each Step is named and
// typed; its result is encoded (JSON by default) and recorded:
//
//	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue})
//	err := runner.Run(ctx, "report-001", func(ctx context.Context, run *checkpoint.Run) error {
//		outline, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) {
//			return model.Outline(ctx, run.Messages())
//		})
//		if err != nil {
//			return err
//		}
//		_, err = checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
//			return cms.Publish(ctx, outline, checkpoint.IdempotencyKey(ctx))
//		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
//		return err
//	})
//
// # Write-ahead protocol
//
// Before a step runs its intent is recorded; its result is recorded before Step returns. On
// resume a completed step returns its recorded result without running. A step with an intent
// and no result is in doubt: an idempotent step runs again with the same idempotency key
// (IdempotencyKey, stable across attempts and resumes); an Irreversible one is never re-run
// blindly: the run escalates with reason ambiguous_state.
//
// # Messages
//
// Run.Append journals messages: inside a step with the step's result, outside at once. The
// journal is append-only, so recording step n costs what step n added, not the whole history.
// On resume Run.Messages returns the history in order, as far as the workflow has replayed.
//
// # Damaged journals
//
// Each record is versioned and its bytes checksummed (CRC-32C); messages are numbered from 0;
// the run's record counts its steps (RunInfo.StepCount) and its messages (RunInfo.MessageCount,
// the Seq its next message takes, which the store sets as it appends them). A record that fails
// its version or checksum, a message missing from the middle of the journal (a gap in the
// numbering), or a journal holding fewer steps or messages than the run counts (a row deleted,
// one table restored from an older backup) is a *CorruptError naming the run, the step and the
// record ("message count": the run records 7 messages, its journal ends after 6), at resume and
// in Get alike. It is never a fresh start and never a shorter history, from which a resumed run
// would carry on: running again steps it had done, an irreversible one included, or going on
// without what was said. The Runner verifies, not the store, so damage reads the same on every
// store; Get returns the view beside the error, each damaged record described, for display.
//
// # Leases
//
// A run is held by one worker through a lease (owner, epoch, expiry) renewed by a heartbeat.
// Every write carries the epoch; a write from a worker whose lease was taken over fails with a
// *StaleEpochError. An expired lease is taken over by the next worker that asks; a live one is
// refused with a *LeaseHeldError naming the owner and the expiry. The default owner ID is
// "<hostname>/<pid>": a run whose owner was a process on this host that no longer exists (killed
// with SIGKILL, say) is taken over at once.
//
// Fencing reaches only the journal: a worker paused (SIGSTOP, a long GC, a frozen VM) past its
// lease and then continued could still act on the outside world after another worker took the
// run over. So before an Irreversible step runs (before its intent is recorded, and again just
// after) and before an escalation is filed, the worker checks by its own clock that its lease
// is still valid: the lease was last confirmed at the moment its claim or renewal was sent, so
// it holds until then plus LeaseTTL; less Config.LeaseMargin (default LeaseTTL/5) for clocks
// that disagree. Past that it renews first, and a worker taken over stops with the
// *StaleEpochError instead of acting. An in-doubt (ambiguous_state) escalation says whether the
// previous owner was a process found dead or one whose lease expired and may still be alive.
//
// A window remains, and no check inside the worker can close it: a pause after the check and
// before the effect reaches the outside system (or a request delayed in the network) lasting
// longer than the lease's remaining time. For that, a step passes its fencing token (Fencing:
// the run's lease epoch with the step's idempotency key) to the system it acts on; a system
// that keeps, per idempotency key, the highest epoch it has seen and refuses lower ones refuses
// the late request of a worker that was taken over. Without such a system, keep LeaseTTL well
// above the longest pause a worker may suffer.
//
// # Escalations
//
// What a step cannot resolve goes to the Config's Escalator: an automatic give-up (reason
// max_retries_exceeded), an error made with Escalate (the step's own reason), a step that
// NeedsApproval (irreversible_action, before it runs), an irreversible step in doubt
// (ambiguous_state). Run then returns a *EscalatedError and the run waits. Run again under the
// same ID: until the escalation is decided the same *EscalatedError comes back; approve runs the
// step (once); respond makes the reviewer's answer the step's result; retry runs it again; reject
// fails the run.
//
// # Reading runs
//
// Store.ListRuns lists runs newest first (filter by status, page with Limit and Offset) with their
// status, workflow, timestamps, last step and attempt count; Get returns one run verified and
// decoded, with its steps (status, executions, attempts with class, delay, model and error,
// timings, escalation) and its messages; Store.PruneRuns deletes finished runs older than a time.
// WithWorkflow records a run's workflow name and input, and Runner.Resume runs a run again with
// the workflow registered under that name, for `rebound runs resume` and the resume Worker.
// RunInfo.LeaseAt says what a running run's lease says of its worker at a time: LeaseHeld, or
// LeaseExpired for a run whose worker died or stalled and that nothing runs until a Worker
// with Recover takes it or it is resumed.
//
// # Resuming decided runs
//
// A Worker (NewWorker, WorkerConfig) resumes the runs whose escalation has been decided, with the
// same map of workflows by name that Runner.Resume takes; `rebound serve --worker` runs one. A
// store that keeps the escalation queue too answers its poll in one query (DecidedLister). A
// poll does not wait for the resumes it starts, so with WorkerConfig.Recover a run left by a
// dead worker is taken within LeaseTTL plus Interval (at the next poll when its owner is a
// process of this host found dead), given a free slot of Concurrency.
//
// # The API, by audience
//
// A workflow's author uses [NewRunner] with a [Config], [Runner.Run] and [Runner.Resume] with
// a [Workflow] and [WithWorkflow], [Step] with [Irreversible], [NeedsApproval] and [WithCodec],
// [IdempotencyKey], [Run.Append] and [Run.Messages], [Escalate], [NewWorker] with a
// [WorkerConfig], and the errors a run returns ([EscalatedError], [RejectedError],
// [WorkflowChangedError], [LeaseHeldError], [CorruptError], matched with [ErrEscalated] and the
// other sentinels). The escalation vocabulary (reasons,
// actions, decisions) is the root package's: rebound.EscalationReason, rebound.Decision.
//
// A reader of runs (a CLI, a dashboard) uses [Get], which returns a [RunView] of [StepView]s,
// and Store.ListRuns with a [RunFilter], which returns [RunInfo]s in a [Status] with a
// [LeaseState] (RunInfo.LeaseAt); their JSON is MarshalJSON, or MarshalJSONAt and
// [MarshalRunsAt] for a reader with its own clock.
//
// A store's author implements [Store] over the journal's record types: [ClaimRequest],
// [Claimed], [Lease], [Write], [RunUpdate], [RunRecord], [StepRecord], [MessageRecord],
// [AttemptRecord], [RecordVersion], [DefaultListLimit], optionally [DecidedLister], with
// [StaleEpochError] and [LeaseHeldError] for the fence. Nothing else in this package needs those types. The
// methods of Store carry "Run" (ClaimRun, RenewRun, WriteRun, GetRun, ListRuns, PruneRuns), so
// a store that also keeps the escalation queue (escalate.Store's methods carry "Escalation")
// never confuses claiming a run's lease with claiming an escalation.
//
// # Stores
//
// MemoryStore lives here; store/sqlite (embedded, the default) and store/postgres (a fleet)
// implement the same Store and pass the conformance suite in checkpoint/checkpointtest.
package checkpoint
