package escalate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
)

// A supervisor's side of the queue (package supervisor): it hands an item to a person with its
// reasons (Route), says that it could not review it (SupervisorUnavailable), and resolves an
// item it claimed under one name with a decision signed by another (ResolveClaimed). Route and
// SupervisorUnavailable leave the item open: only a person, or a later review, decides it.

// Route records that by, a supervisor, looked at the item and hands it to a person: an audit
// entry of event routed whose note is the supervisor's rationale and the risk it saw. The item
// stays open; a claim held by claimant (by itself when claimant is empty) is released. An item
// someone else holds is refused with a *ClaimedError, a decided one with a *StatusError.
func (q *Queue) Route(ctx context.Context, id, claimant, by, note string) (Item, error) {
	return q.leaveOpen(ctx, "route", id, claimant, by, note, AuditRouted)
}

// SupervisorUnavailable records that by, a supervisor, could give no usable verdict on the item
// (a timeout, a provider error, an invalid verdict, its budget spent): an audit entry of event
// supervisor_unavailable with the cause as its note. It is never a denial: the item stays open
// for a person, and a claim held by claimant (by when empty) is released. The rules of Route
// apply.
func (q *Queue) SupervisorUnavailable(ctx context.Context, id, claimant, by, cause string) (Item, error) {
	return q.leaveOpen(ctx, "record supervisor unavailable on", id, claimant, by, cause, AuditSupervisorUnavailable)
}

func (q *Queue) leaveOpen(ctx context.Context, op, id, claimant, by, note string, ev AuditEvent) (Item, error) {
	if err := checkBy(by); err != nil {
		return Item{}, fmt.Errorf("%s escalation %q: %w", op, id, err)
	}
	by, note = cleanText(by), q.redact.Text(note)
	claimant = cleanText(claimant)
	if strings.TrimSpace(claimant) == "" {
		claimant = by
	}
	return q.change(ctx, op, id, func(it *Item, _ time.Time) (AuditEntry, error) {
		switch {
		case it.Status == StatusClaimed && it.ClaimedBy != claimant:
			return AuditEntry{}, &ClaimedError{ID: id, Op: op, By: it.ClaimedBy, Until: it.ClaimedUntil}
		case it.Status != StatusOpen && it.Status != StatusClaimed:
			return AuditEntry{}, &StatusError{ID: id, Op: op, Status: it.Status}
		}
		it.Status, it.ClaimedBy, it.ClaimedUntil = StatusOpen, "", time.Time{}
		return AuditEntry{By: by, Event: ev, Note: note}, nil
	})
}

// ResolveClaimed is Resolve for an item that claimant holds (or that is open) while the
// decision is signed d.By: a supervisor claims under a name of its own process, so that two
// supervisors with one model and policy never hold one item together, and signs with its model
// and policy version. The checks of Resolve apply, with claimant in place of d.By.
func (q *Queue) ResolveClaimed(ctx context.Context, id, claimant string, d rebound.Decision) (Item, error) {
	if err := ValidateDecision(d); err != nil {
		return Item{}, fmt.Errorf("resolve escalation %q: %w", id, err)
	}
	if err := checkBy(claimant); err != nil {
		return Item{}, fmt.Errorf("resolve escalation %q: %w", id, err)
	}
	raw := d.Answer
	d = q.cleanDecision(d)
	claimant = cleanText(claimant)
	return q.change(ctx, "resolve", id, func(it *Item, t time.Time) (AuditEntry, error) {
		switch {
		case it.Status == StatusClaimed && it.ClaimedBy != claimant:
			return AuditEntry{}, &ClaimedError{ID: id, Op: "resolve", By: it.ClaimedBy, Until: it.ClaimedUntil}
		case it.Status != StatusOpen && it.Status != StatusClaimed:
			return AuditEntry{}, &StatusError{ID: id, Op: "resolve", Status: it.Status}
		}
		if d.Action == rebound.ActionRespond {
			if err := checkAnswer(it, raw); err != nil {
				return AuditEntry{}, err
			}
		}
		dd := d
		it.Status, it.Decision, it.DecidedAt, it.ActedAt = StatusResolved, &dd, t, time.Time{}
		it.ClaimedBy, it.ClaimedUntil = "", time.Time{}
		a := decisionEntry(AuditResolved, d) // the whole decision, kept in the trail
		if a.Note == "" {
			a.Note = d.Rationale
		}
		return a, nil
	})
}
