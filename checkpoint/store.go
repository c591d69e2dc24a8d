package checkpoint

import (
	"context"
	"encoding/json"
	"time"
)

// Store is where runs are journaled. It is the interface a store's author implements; a
// workflow's author only passes one to NewRunner. Every store (the in-memory one here, store/sqlite,
// store/postgres) passes the conformance suite in package checkpointtest.
//
// The Runner is the only writer a store needs to understand: it claims a run (ClaimRun), then
// sends each change as one Write (WriteRun), which the store applies in one transaction if, and only if, the run is
// still held under the lease's epoch (fencing). The read methods serve the CLI and the dashboard.
//
// Stores keep records as bytes with their checksums; the Runner, not the store, verifies them,
// so a damaged record is detected the same way on every store.
type Store interface {
	// ClaimRun takes the lease on a run for req.Owner, creating the run (status running, epoch 1)
	// if it does not exist. A run held under a lease that has not expired is refused with a
	// *LeaseHeldError, unless req.TakeOver names exactly the lease that holds it. A successful
	// claim increments the epoch and returns the run's records as they were.
	ClaimRun(ctx context.Context, req ClaimRequest) (*Claimed, error)
	// RenewRun extends a lease to now+ttl. It fails with a *StaleEpochError when the run is held
	// under another epoch.
	RenewRun(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error)
	// WriteRun applies w atomically, provided the run is held under lease.Epoch; otherwise it fails
	// with a *StaleEpochError and changes nothing. An expired lease that nobody took over is still
	// valid for writing.
	WriteRun(ctx context.Context, lease Lease, w Write) error
	// GetRun returns a run with all its records, or an error matching ErrRunNotFound.
	GetRun(ctx context.Context, runID string) (*RunRecord, error)
	// ListRuns returns runs, newest first (by creation time, then ID).
	ListRuns(ctx context.Context, f RunFilter) ([]RunInfo, error)
	// PruneRuns deletes finished runs (completed, failed, canceled) last updated before before, with
	// all their records, and returns how many it deleted.
	PruneRuns(ctx context.Context, before time.Time) (int, error)
}

// Status is a run's state.
type Status string

// The run states.
const (
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	// StatusEscalated: the run waits for a person's decision on an escalation.
	StatusEscalated Status = "escalated"
	StatusCanceled  Status = "canceled"
)

// Finished reports whether s is a final state (completed, failed or canceled). A finished run
// can still be run again under its ID: completed steps are skipped.
func (s Status) Finished() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

// StepStatus is a step's state.
type StepStatus string

// The step states.
const (
	// StepStarted: the intent is recorded and no result yet. Found on resume, the step is in
	// doubt: it may or may not have taken effect.
	StepStarted   StepStatus = "started"
	StepCompleted StepStatus = "completed"
	StepFailed    StepStatus = "failed"
	// StepEscalated: the step waits for the decision on its escalation.
	StepEscalated StepStatus = "escalated"
)

// Lease is a worker's hold on a run. Every write carries it; the epoch fences out a worker whose
// lease was taken over.
type Lease struct {
	RunID   string
	Owner   string
	Epoch   int64
	Expires time.Time
}

// ClaimRequest asks for a run's lease.
type ClaimRequest struct {
	RunID string
	Owner string
	// TTL is how long the lease lasts from now.
	TTL time.Duration
	// Workflow and Input are recorded when the run is created, or when the run has none yet.
	Workflow string
	Input    json.RawMessage
	// TakeOver, if set, is a lease the caller knows to be abandoned (its owner is a process on
	// this host that no longer exists): the claim succeeds although the lease has not expired,
	// provided the run is still held by exactly that owner and epoch.
	TakeOver *Lease
}

// Claimed is the outcome of a successful claim.
type Claimed struct {
	Lease Lease
	// Created is true when the claim created the run.
	Created bool
	// Previous is the lease the claim replaced, as it was (its owner, epoch and expiry); zero
	// when the run was created by the claim or had never been held.
	Previous Lease
	// Run is the run as the claim found it (its status is not changed by a claim).
	Run      RunInfo
	Steps    []StepRecord
	Messages []MessageRecord
}

// Write is one atomic change to a run's journal.
type Write struct {
	// Steps are inserted or replaced, keyed by run and Index.
	Steps []StepRecord
	// Messages are appended; their Seq numbers continue the run's, and the run's MessageCount
	// becomes the Seq after the last one (the run's message journal then ends there).
	Messages []MessageRecord
	// Attempts are appended.
	Attempts []AttemptRecord
	// Run, if set, updates the run's summary.
	Run *RunUpdate
	// Release ends the lease (it expires now) after the write.
	Release bool
}

// RunUpdate is the new summary of a run.
type RunUpdate struct {
	Status       Status
	LastStep     string
	StepCount    int
	AttemptCount int
	EscalationID string
	Error        string
}

// RecordVersion is the version of the record format this package writes and reads. A record
// with another version is reported as damaged, never read as empty.
const RecordVersion = 1

// StepRecord is one step of a run's journal.
type StepRecord struct {
	Index  int
	Name   string
	Status StepStatus
	// Key is the step's idempotency key, the same on every attempt and resume.
	Key          string
	Irreversible bool
	// Version is the record format (RecordVersion).
	Version int
	// Result is the step's encoded result, when completed; Checksum its CRC-32C.
	Result   []byte
	Checksum uint32
	// Error, Class and Reason describe a failure or an escalation.
	Error        string
	Class        string
	Reason       string
	EscalationID string
	// Executions counts how many times the step's function was started, over all resumes.
	Executions int
	StartedAt  time.Time
	FinishedAt time.Time
}

// MessageRecord is one message of a run's history.
type MessageRecord struct {
	// Seq numbers a run's messages from 0, in order.
	Seq int64
	// Step is the index of the step that appended the message, or -1 for a message appended
	// outside any step.
	Step     int
	Version  int
	Body     []byte // the rebound.Message as JSON
	Checksum uint32
}

// AttemptRecord is one event of a step's attempts: a failed attempt, a call an open breaker
// refused, a scheduled retry, a fallback, a breaker change or a give-up, in the order they
// happened.
type AttemptRecord struct {
	Step    int
	Time    time.Time
	Kind    string // a rebound.EventKind, or KindRefused
	Attempt int
	Class   string
	Delay   time.Duration
	Model   string
	From    string
	To      string
	Reason  string
	Error   string
}

// RunInfo is a run's summary, as listed.
type RunInfo struct {
	ID           string
	Workflow     string
	Input        json.RawMessage
	Status       Status
	Owner        string
	Epoch        int64
	LeaseExpires time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// LastStep is the name of the last step that started.
	LastStep  string
	StepCount int
	// MessageCount is how many messages the run has journaled (the Seq its next message takes),
	// as the store counted them when it appended them. Get and a resume check the journal
	// against it, as they check the steps against StepCount: a journal that holds fewer is
	// damaged (a *CorruptError), never a shorter conversation.
	MessageCount int
	// AttemptCount is how many attempts the run's steps made: for each execution of a step,
	// the calls that failed and the one that succeeded, and at least one (CountAttempts says
	// which events are attempts). The CLI's summary, `runs list`, `runs show` and the dashboard
	// all print this number.
	AttemptCount int
	EscalationID string
	Error        string
}

// RunRecord is a run with all its records, as a store keeps them. Use Get for a verified,
// decoded view.
type RunRecord struct {
	RunInfo
	Steps    []StepRecord
	Messages []MessageRecord
	Attempts []AttemptRecord
}

// RunFilter selects runs to list.
type RunFilter struct {
	// Status, if not empty, keeps only runs in one of these states.
	Status []Status
	// Limit caps the number of runs (default 100).
	Limit int
	// Offset skips the first runs, for paging.
	Offset int
}

// DefaultListLimit is the Limit of a RunFilter that sets none.
const DefaultListLimit = 100
