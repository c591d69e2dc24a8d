package escalate

import (
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
)

// The sentinel errors, matched with errors.Is. Each typed error below matches one of them; a
// front end maps them to HTTP statuses: ErrNotFound to 404, ErrConflict to 409, ErrInvalid to
// 400.
var (
	// ErrNotFound: no item has the ID.
	ErrNotFound = errors.New("escalate: item not found")
	// ErrConflict: the item is claimed by someone else, or its status does not allow the change.
	ErrConflict = errors.New("escalate: conflict")
	// ErrInvalid: the request itself is wrong (an unknown action, a respond without an answer,
	// no reviewer named).
	ErrInvalid = errors.New("escalate: invalid request")
)

// DamagedError says that a stored item cannot be read whole: a field holds what no item holds
// (messages or a state that are not JSON, an unknown class). Get reports it; List shows the
// item with what could be read, its Damaged field saying what is wrong, so that one damaged
// row does not hide the rest of the queue.
type DamagedError struct {
	ID string
	// Field names the damaged field: "messages", "state", "class".
	Field string
	Err   error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("escalation %q: damaged record (%s): %v", e.ID, e.Field, e.Err)
}

// Unwrap returns what was wrong.
func (e *DamagedError) Unwrap() error { return e.Err }

// NotFoundError says that no item has the ID. It matches ErrNotFound.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("escalation %q not found", e.ID) }

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ClaimedError says that another reviewer holds the item. It matches ErrConflict.
type ClaimedError struct {
	ID string
	// Op is what was refused: "claim", "resolve", "dismiss", "release", "reopen".
	Op string
	// By holds the item until Until.
	By    string
	Until time.Time
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("cannot %s escalation %q: claimed by %q until %s", e.Op, e.ID, e.By,
		e.Until.UTC().Format(time.RFC3339))
}

// Is reports whether target is ErrConflict.
func (e *ClaimedError) Is(target error) bool { return target == ErrConflict }

// StatusError says that the item's status does not allow the change (resolving a dismissed item,
// reopening an open one). It matches ErrConflict.
type StatusError struct {
	ID     string
	Op     string
	Status Status
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("cannot %s escalation %q: it is %s", e.Op, e.ID, e.Status)
}

// Is reports whether target is ErrConflict.
func (e *StatusError) Is(target error) bool { return target == ErrConflict }

// InvalidError says what is wrong with a request: an unknown action, a respond without an answer,
// a missing reviewer. It matches ErrInvalid.
type InvalidError struct {
	// Field names the offending input ("action", "answer", "by").
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid escalation %s: %s", e.Field, e.Reason)
}

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// DuplicateError says that a change would give a run step a second waiting item: reopening an
// item whose step has been escalated again since. It matches ErrConflict.
type DuplicateError struct {
	ID          string
	RunID, Step string
	WaitingID   string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("cannot reopen escalation %q: run %q step %q already waits on escalation %q",
		e.ID, e.RunID, e.Step, e.WaitingID)
}

// Is reports whether target is ErrConflict.
func (e *DuplicateError) Is(target error) bool { return target == ErrConflict }

// ErrHeld: a supervisor's decision is made but on hold; the run may not act on it yet (see
// *HeldError). It is not a conflict of the request: the run waits and tries again.
var ErrHeld = errors.New("escalate: decision on hold")

// HeldError says that the decision on an item is a supervisor's still within its hold: the run
// may act on it from Until, and a person may override it (Queue.Override) until then.
// Queue.Decision returns it. It matches ErrHeld; package checkpoint recognises it by its
// HeldUntil method and keeps the run waiting.
type HeldError struct {
	ID string
	// By is the supervisor ("model policy:version"), Action what it decided.
	By     string
	Action rebound.Action
	Until  time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("escalation %q: the supervisor's decision (%s, by %s) is on hold until %s; a person may override it until then",
		e.ID, e.Action, e.By, e.Until.UTC().Format(time.RFC3339Nano))
}

// Is reports whether target is ErrHeld.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// HeldUntil is when the hold ends.
func (e *HeldError) HeldUntil() time.Time { return e.Until }

// OverrideRefusal says why an override was refused.
type OverrideRefusal string

// The refusals.
const (
	// RefusedByPerson: a person decided (or dismissed) the item; a person's decision is not
	// overridden (Reopen it instead).
	RefusedByPerson OverrideRefusal = "decided_by_person"
	// RefusedHoldOver: the supervisor's decision had no hold, or its hold is over: the run may
	// act on it, or has.
	RefusedHoldOver OverrideRefusal = "hold_over"
	// RefusedActed: the run has taken the decision to act on it (the item's ActedAt).
	RefusedActed OverrideRefusal = "already_acted"
)

// OverrideError says why Queue.Override refused to replace a decision. It matches ErrConflict.
type OverrideError struct {
	ID  string
	Why OverrideRefusal
	// By is who made the decision that stands; At is when its hold ended (RefusedHoldOver) or
	// when the run took it (RefusedActed).
	By string
	At time.Time
}

func (e *OverrideError) Error() string {
	switch e.Why {
	case RefusedByPerson:
		return fmt.Sprintf("cannot override escalation %q: it was decided by a person (%s), not a supervisor; reopen it to decide again", e.ID, e.By)
	case RefusedHoldOver:
		if e.At.IsZero() {
			return fmt.Sprintf("cannot override escalation %q: the supervisor's decision (by %s) had no hold: the run may act on it at once", e.ID, e.By)
		}
		return fmt.Sprintf("cannot override escalation %q: the hold of the supervisor's decision (by %s) ended at %s", e.ID, e.By, e.At.UTC().Format(time.RFC3339))
	case RefusedActed:
		return fmt.Sprintf("cannot override escalation %q: the run already acted on the supervisor's decision (by %s) at %s", e.ID, e.By, e.At.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("cannot override escalation %q: %s", e.ID, e.Why)
}

// Is reports whether target is ErrConflict.
func (e *OverrideError) Is(target error) bool { return target == ErrConflict }
