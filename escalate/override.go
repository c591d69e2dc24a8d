package escalate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
)

// A supervisor's decision with a hold, and a person's override of it.
//
// A supervisor (a model deciding within its policy) may resolve an item with a Hold: the run
// does not act on the decision before DecidedAt + Hold, and until then a person may replace it
// (Override). Which of the two happens is settled by the store, in the item's own atomic
// change: the run takes the decision (Item.ActedAt, audit event taken) only once the hold is
// over, and an override is accepted only while the decision has not been taken and the hold
// is not over. So exactly one wins, whatever the clocks of the processes involved say, and the
// run acts on the decision the store keeps as final: a run that crashes after taking the
// decision takes the same one again.

// errNotHeld says, inside take, that the item's decision is no longer one to take (reopened,
// overridden or taken meanwhile): read it again.
var errNotHeld = errors.New("escalate: decision not held")

// decisionToAct returns the decision on it for the run to act on: at once for a decision
// without a hold (or one already taken); for a held one, a *HeldError during the hold, and
// after it the decision, taken in one atomic change so that no override can replace it
// afterwards.
func (q *Queue) decisionToAct(ctx context.Context, it Item) (rebound.Decision, bool, error) {
	for range 3 {
		if (it.Status != StatusResolved && it.Status != StatusDismissed) || it.Decision == nil {
			return rebound.Decision{}, false, nil
		}
		until := it.HoldUntil()
		if until.IsZero() || !it.ActedAt.IsZero() {
			return *it.Decision, true, nil
		}
		if t := now(); t.Before(until) {
			return rebound.Decision{}, false, &HeldError{ID: it.ID, By: it.Decision.By, Action: it.Decision.Action, Until: until}
		}
		taken, err := q.change(ctx, "take decision on", it.ID, func(cur *Item, t time.Time) (AuditEntry, error) {
			u := cur.HoldUntil()
			if cur.Status != StatusResolved || u.IsZero() || !cur.ActedAt.IsZero() {
				return AuditEntry{}, errNotHeld
			}
			if t.Before(u) {
				return AuditEntry{}, &HeldError{ID: cur.ID, By: cur.Decision.By, Action: cur.Decision.Action, Until: u}
			}
			cur.ActedAt = t
			return AuditEntry{By: "rebound", Event: AuditTaken, Action: cur.Decision.Action, Actor: cur.Decision.Actor,
				Note: "hold over: the run acts on the decision of " + cur.Decision.By}, nil
		})
		switch {
		case err == nil:
			return *taken.Decision, true, nil
		case errors.Is(err, ErrHeld):
			var he *HeldError
			errors.As(err, &he)
			return rebound.Decision{}, false, he
		case !errors.Is(err, errNotHeld):
			return rebound.Decision{}, false, err
		}
		if it, err = q.Get(ctx, it.ID); err != nil {
			return rebound.Decision{}, false, err
		}
	}
	return rebound.Decision{}, false, fmt.Errorf("decision on escalation %q: it kept changing while being read", it.ID)
}

// Override replaces a supervisor's decision on the item with a person's, d, before the run acts
// on it. It is accepted only while the decision is held: made by a supervisor, with a hold not
// yet over, and not yet taken by the run. Refusals are an *OverrideError naming why
// (RefusedByPerson, RefusedHoldOver, RefusedActed); an item with no decision is refused with a
// *StatusError (resolve it instead); all match ErrConflict. d is checked as Resolve checks it
// and must be a person's (no Hold; an empty Actor reads as person).
//
// The person's decision becomes the item's (DecidedAt is the override's time) and acts at once:
// it has no hold. The audit trail gets an overridden entry with the person's decision; the
// supervisor's stays in its resolved entry.
func (q *Queue) Override(ctx context.Context, id string, d rebound.Decision) (Item, error) {
	if err := ValidateDecision(d); err != nil {
		return Item{}, fmt.Errorf("override escalation %q: %w", id, err)
	}
	if d.Actor == rebound.ActorSupervisor {
		return Item{}, fmt.Errorf("override escalation %q: %w", id,
			&InvalidError{Field: "actor", Reason: "a supervisor's decision is overridden by a person, not by another supervisor"})
	}
	raw := d.Answer
	d = q.cleanDecision(d)
	return q.change(ctx, "override", id, func(it *Item, t time.Time) (AuditEntry, error) {
		switch {
		case it.Status != StatusResolved && it.Status != StatusDismissed || it.Decision == nil:
			return AuditEntry{}, &StatusError{ID: id, Op: "override", Status: it.Status}
		case it.DecidedByActor() != rebound.ActorSupervisor || it.Status == StatusDismissed:
			return AuditEntry{}, &OverrideError{ID: id, Why: RefusedByPerson, By: it.Decision.By}
		case !it.ActedAt.IsZero():
			return AuditEntry{}, &OverrideError{ID: id, Why: RefusedActed, By: it.Decision.By, At: it.ActedAt}
		case !t.Before(it.HoldUntil()):
			return AuditEntry{}, &OverrideError{ID: id, Why: RefusedHoldOver, By: it.Decision.By, At: it.HoldUntil()}
		}
		if d.Action == rebound.ActionRespond {
			if err := checkAnswer(it, raw); err != nil {
				return AuditEntry{}, err
			}
		}
		dd := d
		it.Decision, it.DecidedAt, it.ActedAt = &dd, t, time.Time{}
		return decisionEntry(AuditOverridden, d), nil
	})
}
