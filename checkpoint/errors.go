package checkpoint

import (
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
)

// Sentinels matched with errors.Is by the typed errors below.
var (
	// ErrEscalated: the run waits for a person (see *EscalatedError).
	ErrEscalated = errors.New("checkpoint: run escalated")
	// ErrLeaseHeld: another live worker holds the run (see *LeaseHeldError).
	ErrLeaseHeld = errors.New("checkpoint: lease held by another worker")
	// ErrStaleEpoch: the run was taken over; this worker's writes are refused (see *StaleEpochError).
	ErrStaleEpoch = errors.New("checkpoint: stale lease epoch")
	// ErrWorkflowChanged: the steps called differ from the steps recorded (see *WorkflowChangedError).
	ErrWorkflowChanged = errors.New("checkpoint: workflow changed")
	// ErrCorrupt: a stored record is damaged (see *CorruptError).
	ErrCorrupt = errors.New("checkpoint: damaged record")
	// ErrRunNotFound: no run has that ID.
	ErrRunNotFound = errors.New("checkpoint: run not found")
	// ErrRejected: a reviewer rejected the escalated step; the run failed (see *RejectedError).
	ErrRejected = errors.New("checkpoint: rejected by reviewer")
	// ErrLeaseLost: the lease could not be renewed before it expired; the run was stopped.
	ErrLeaseLost = errors.New("checkpoint: lease lost")
	// ErrHeld: the escalation is decided, but the decision is on hold (a supervisor's, which a
	// person may still override): the run waits until the hold is over (see *HeldError).
	ErrHeld = errors.New("checkpoint: decision on hold")
)

// held is what an Escalator's Decision returns for a decision that is made but may not be
// acted on yet (package escalate's *HeldError).
type held interface {
	error
	HeldUntil() time.Time
}

// HeldError says that a run's escalation is decided but the decision is on hold until Until:
// the run stays escalated and may be resumed from then (the resume Worker waits for it). It
// comes wrapped in an *EscalatedError (matching ErrEscalated) and matches ErrHeld.
type HeldError struct {
	EscalationID string
	Until        time.Time
	// Err is the Escalator's report (who decided what).
	Err error
}

func (e *HeldError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("not resumed: %v", e.Err)
	}
	return fmt.Sprintf("not resumed: the decision on escalation %s is on hold until %s", e.EscalationID, e.Until.UTC().Format(time.RFC3339Nano))
}

// Is reports whether target is ErrHeld.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Unwrap returns the Escalator's report.
func (e *HeldError) Unwrap() error { return e.Err }

// EscalatedError says a run waits in the escalation queue.
type EscalatedError struct {
	RunID        string
	Step         string
	EscalationID string
	Reason       rebound.EscalationReason
	// Err is the failure that was escalated, if any.
	Err error
}

func (e *EscalatedError) Error() string {
	s := fmt.Sprintf("run %q escalated at step %q (%s, escalation %s)", e.RunID, e.Step, e.Reason, e.EscalationID)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrEscalated.
func (e *EscalatedError) Is(target error) bool { return target == ErrEscalated }

// Unwrap returns the escalated failure.
func (e *EscalatedError) Unwrap() error { return e.Err }

// LeaseHeldError says another worker holds a live lease on the run, or (Locked) that the
// run's record is locked by another database session right now.
type LeaseHeldError struct {
	RunID   string
	Owner   string
	Expires time.Time
	// Locked: the store found the run's record locked by another session (a worker claiming or
	// writing it at this moment, or a stalled one); Owner and Expires are then the lease as
	// last committed, which may have expired.
	Locked bool
}

func (e *LeaseHeldError) Error() string {
	if e.Locked {
		s := fmt.Sprintf("run %q is locked by another database session (a worker claiming or writing it now, or a stalled one: the store's lock and idle-in-transaction timeouts end a stalled session)", e.RunID)
		if e.Owner != "" {
			s += fmt.Sprintf("; its lease, as last committed, is %s's until %s", e.Owner, e.Expires.UTC().Format(time.RFC3339Nano))
		}
		return s
	}
	return fmt.Sprintf("run %q is held by %s until %s", e.RunID, e.Owner, e.Expires.UTC().Format(time.RFC3339Nano))
}

// Is reports whether target is ErrLeaseHeld.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// StaleEpochError says a write or renewal came from a lease that was taken over.
type StaleEpochError struct {
	RunID string
	// Epoch is the writer's; Current the run's (0 if the run is gone).
	Epoch, Current int64
	Owner          string
}

func (e *StaleEpochError) Error() string {
	return fmt.Sprintf("run %q: write with stale lease epoch %d refused (now epoch %d, held by %s)", e.RunID, e.Epoch, e.Current, e.Owner)
}

// Is reports whether target is ErrStaleEpoch.
func (e *StaleEpochError) Is(target error) bool { return target == ErrStaleEpoch }

// WorkflowChangedError says the workflow called a step (or appended a message) that differs
// from what the run recorded at that position: its code changed since the run started.
type WorkflowChangedError struct {
	RunID string
	// Index is the step's position (from 0), or the message's sequence number when Message is set.
	Index    int
	Recorded string
	Called   string
	Message  bool
}

func (e *WorkflowChangedError) Error() string {
	if e.Message {
		return fmt.Sprintf("run %q: workflow changed: message %d was %s, now %s", e.RunID, e.Index, e.Recorded, e.Called)
	}
	return fmt.Sprintf("run %q: workflow changed: step %d was %q, now %q", e.RunID, e.Index, e.Recorded, e.Called)
}

// Is reports whether target is ErrWorkflowChanged.
func (e *WorkflowChangedError) Is(target error) bool { return target == ErrWorkflowChanged }

// CorruptError says a stored record of a run is damaged: bad JSON, an unknown version, a
// checksum that does not match.
type CorruptError struct {
	RunID string
	Step  string
	// Record names the record: "result of step 3", "message 12".
	Record string
	Err    error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("run %q step %q: damaged record (%s): %v", e.RunID, e.Step, e.Record, e.Err)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns what was wrong.
func (e *CorruptError) Unwrap() error { return e.Err }

// RejectedError says a reviewer rejected an escalated step, failing the run.
type RejectedError struct {
	RunID        string
	Step         string
	EscalationID string
	By           string
	Note         string
}

func (e *RejectedError) Error() string {
	s := fmt.Sprintf("run %q step %q rejected", e.RunID, e.Step)
	if e.By != "" {
		s += " by " + e.By
	}
	if e.Note != "" {
		s += ": " + e.Note
	}
	return s
}

// Is reports whether target is ErrRejected.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }
