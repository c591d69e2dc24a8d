package escalate

import (
	"context"
	"time"
)

// Store keeps items and their audit trails. The Queue holds every rule (who may claim, which
// changes a status allows, redaction); a store only has to make each change atomic. Every store
// passes escalatetest.Run: MemoryStore here, store/sqlite and store/postgres.
//
// The method names carry "Escalation" because one database store also implements
// checkpoint.Store.
type Store interface {
	// InsertEscalation stores a new item (already redacted, its ID chosen) with its first audit
	// ClaimedBy, ClaimedUntil, Decision with all its fields, UpdatedAt, DecidedAt, ActedAt)
	// and appends the returned audit entry (all its fields), in one transaction. If the run already has a waiting item (open or claimed) for
	// the same step, nothing is stored and that item is returned with created false: a run that
	// escalates the same step twice (say, after a crash) gets one item. Items with an empty
	// RunID are never merged.
	InsertEscalation(ctx context.Context, it Item, a AuditEntry) (stored Item, created bool, err error)
	// GetEscalation returns the item as stored, or a *NotFoundError.
	GetEscalation(ctx context.Context, id string) (Item, error)
	// UpdateEscalation changes one item atomically: it reads the item under a lock that keeps
	// every other update of the item out (a row lock, an immediate transaction, a mutex), calls
	// update with it, and if update returns no error writes the changed item (Status,
	// ClaimedBy, ClaimedUntil, Decision with all its fields, UpdatedAt, DecidedAt, ActedAt)
	// and appends the returned audit entry (all its fields), in one transaction. An error from
	// update is returned as it is and nothing changes. A missing item is a *NotFoundError. A change that would give a run step a second waiting
	// item (reopening an item whose step was escalated again since) is refused with a
	// *DuplicateError. update must not call the store; it may be called more than once.
	UpdateEscalation(ctx context.Context, id string, update func(it *Item) (AuditEntry, error)) (Item, error)
	// ListEscalations returns the items f selects (every Filter field, Actor and DecidedBy
	// included), as stored (claims not settled), ordered by
	// status as seen at now (open, including expired claims, then claimed, resolved,
	// dismissed), then oldest first (CreatedAt, then ID).
	ListEscalations(ctx context.Context, f Filter, now time.Time) ([]Item, error)
	// EscalationAudit returns an item's audit trail in the order it was written, or a
	// *NotFoundError.
	EscalationAudit(ctx context.Context, id string) ([]AuditEntry, error)
	// EscalationStats returns, per reason that has waiting items (open or claimed), their
	// count, how many are claimed at now, and the oldest one's CreatedAt; sorted by reason.
	EscalationStats(ctx context.Context, now time.Time) ([]ReasonStats, error)
}

// FencedStore is a Store that also keeps the runs' journals (store/sqlite, store/postgres), so
// it can fence the filing of an item like every other write of a run: Queue.Escalate uses it
// when the escalation names the filer's lease (rebound.Escalation.LeaseOwner and LeaseEpoch).
type FencedStore interface {
	Store
	// InsertEscalationFenced is InsertEscalation, done only if the run it.RunID, when this
	// store keeps it, is held by owner under epoch, checked in the same transaction: otherwise
	// it stores nothing and fails with the journal's stale-epoch error
	// (checkpoint.ErrStaleEpoch).
	InsertEscalationFenced(ctx context.Context, it Item, a AuditEntry, owner string, epoch int64) (stored Item, created bool, err error)
}

// NextStore is a Store that can also pick the oldest open item and change it in one
// transaction, skipping items that other transactions hold, as PostgreSQL's FOR UPDATE SKIP
// LOCKED does: a fleet of reviewers (or supervising agents) taking work does not queue on one
// row. Queue.ClaimNext uses it when the store has it.
type NextStore interface {
	Store
	// UpdateNextEscalation picks the first item, in ListEscalations order, that f selects
	// among the items open at now (f.Status is ignored) and no other transaction holds, and
	// changes it as UpdateEscalation would. ok is false when there is none. An error from
	// update is returned as it is.
	UpdateNextEscalation(ctx context.Context, f Filter, now time.Time, update func(it *Item) (AuditEntry, error)) (it Item, ok bool, err error)
}

// statusRank orders statuses as List returns them.
func statusRank(s Status) int {
	switch s {
	case StatusOpen:
		return 0
	case StatusClaimed:
		return 1
	case StatusResolved:
		return 2
	case StatusDismissed:
		return 3
	}
	return 4
}
