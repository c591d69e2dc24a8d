package escalate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
)

// The reviewer's side of the queue: claims and decisions. Every change runs as one atomic
// change of the store (Store.UpdateEscalation) and leaves one audit entry.

func checkBy(by string) error {
	if strings.TrimSpace(by) == "" {
		return &InvalidError{Field: "by", Reason: "name who is acting"}
	}
	return nil
}

// change runs one atomic change of an item, seen as it is at the time of the change.
func (q *Queue) change(ctx context.Context, op, id string, f func(it *Item, t time.Time) (AuditEntry, error)) (Item, error) {
	if cleanText(id) != id {
		return Item{}, fmt.Errorf("%s escalation: %w", op, &NotFoundError{ID: id})
	}
	var t time.Time
	it, err := q.store.UpdateEscalation(ctx, id, func(it *Item) (AuditEntry, error) {
		t = now()
		*it = it.settle(t)
		from := it.Status
		a, err := f(it, t)
		if err != nil {
			return AuditEntry{}, err
		}
		it.UpdatedAt = t
		a.ItemID, a.At, a.From, a.To = it.ID, t, from, it.Status
		return a, nil
	})
	if err != nil {
		return Item{}, fmt.Errorf("%s escalation: %w", op, err)
	}
	return it.settle(t), nil
}

// Claim lets the reviewer by hold the item for d (Config.ClaimFor when d <= 0), so that two
// reviewers do not work on it at once. It succeeds on an open item, on one whose claim has
// expired, and on one by already holds (extending the claim). An item someone else holds is
// refused with a *ClaimedError, a resolved or dismissed one with a *StatusError (both match
// ErrConflict).
func (q *Queue) Claim(ctx context.Context, id, by string, d time.Duration) (Item, error) {
	if err := checkBy(by); err != nil {
		return Item{}, err
	}
	by = cleanText(by)
	if d <= 0 {
		d = q.cfg.ClaimFor
	}
	return q.change(ctx, "claim", id, func(it *Item, t time.Time) (AuditEntry, error) {
		switch {
		case it.Status == StatusClaimed && it.ClaimedBy != by:
			return AuditEntry{}, &ClaimedError{ID: id, Op: "claim", By: it.ClaimedBy, Until: it.ClaimedUntil}
		case it.Status != StatusOpen && it.Status != StatusClaimed:
			return AuditEntry{}, &StatusError{ID: id, Op: "claim", Status: it.Status}
		}
		it.Status, it.ClaimedBy, it.ClaimedUntil = StatusClaimed, by, t.Add(d)
		return AuditEntry{By: by, Event: AuditClaimed,
			Note: "until " + it.ClaimedUntil.Format(time.RFC3339)}, nil
	})
}

// ClaimNext claims for by the oldest open item that f selects (f.Status is ignored), skipping
// items another reviewer takes meanwhile. ok is false when there is none.
func (q *Queue) ClaimNext(ctx context.Context, by string, d time.Duration, f Filter) (it Item, ok bool, err error) {
	if err := checkBy(by); err != nil {
		return Item{}, false, err
	}
	by = cleanText(by)
	if d <= 0 {
		d = q.cfg.ClaimFor
	}
	f.Status = []Status{StatusOpen}
	if ns, ok := q.store.(NextStore); ok {
		var t time.Time
		it, ok, err := ns.UpdateNextEscalation(ctx, f, now(), func(it *Item) (AuditEntry, error) {
			t = now()
			*it = it.settle(t)
			if it.Status != StatusOpen {
				return AuditEntry{}, &StatusError{ID: it.ID, Op: "claim", Status: it.Status}
			}
			it.Status, it.ClaimedBy, it.ClaimedUntil, it.UpdatedAt = StatusClaimed, by, t.Add(d), t
			return AuditEntry{ItemID: it.ID, At: t, By: by, Event: AuditClaimed, From: StatusOpen,
				To: StatusClaimed, Note: "until " + it.ClaimedUntil.Format(time.RFC3339)}, nil
		})
		if err != nil {
			return Item{}, false, fmt.Errorf("claim next escalation: %w", err)
		}
		return it.settle(t), ok, nil
	}
	f.Limit = 20
	for {
		items, err := q.List(ctx, f)
		if err != nil {
			return Item{}, false, err
		}
		if len(items) == 0 {
			return Item{}, false, nil
		}
		for _, c := range items {
			it, err := q.Claim(ctx, c.ID, by, d)
			if err == nil {
				return it, true, nil
			}
			if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
				return Item{}, false, err
			}
		}
	}
}

// Release gives up by's claim on the item; it is open again. Releasing an item someone else
// holds is refused with a *ClaimedError; one that is not claimed, with a *StatusError.
func (q *Queue) Release(ctx context.Context, id, by string) (Item, error) {
	if err := checkBy(by); err != nil {
		return Item{}, err
	}
	by = cleanText(by)
	return q.change(ctx, "release", id, func(it *Item, t time.Time) (AuditEntry, error) {
		switch {
		case it.Status != StatusClaimed:
			return AuditEntry{}, &StatusError{ID: id, Op: "release", Status: it.Status}
		case it.ClaimedBy != by:
			return AuditEntry{}, &ClaimedError{ID: id, Op: "release", By: it.ClaimedBy, Until: it.ClaimedUntil}
		}
		it.Status, it.ClaimedBy, it.ClaimedUntil = StatusOpen, "", time.Time{}
		return AuditEntry{By: by, Event: AuditReleased}, nil
	})
}

// ValidateDecision checks d as Resolve would: a known action, an answer for respond, a
// reviewer. Its errors are *InvalidError (matching ErrInvalid).
func ValidateDecision(d rebound.Decision) error {
	switch d.Action {
	case rebound.ActionApprove, rebound.ActionReject, rebound.ActionRetry:
	case rebound.ActionRespond:
		if strings.TrimSpace(d.Answer) == "" {
			return &InvalidError{Field: "answer", Reason: "respond needs an answer"}
		}
	case rebound.ActionEdit:
		var args map[string]json.RawMessage
		if err := json.Unmarshal([]byte(d.Answer), &args); err != nil || args == nil {
			return &InvalidError{Field: "answer", Reason: "edit needs the edited arguments as a JSON object"}
		}
	case "":
		return &InvalidError{Field: "action", Reason: "missing; want approve, reject, respond, edit or retry"}
	default:
		return &InvalidError{Field: "action", Reason: fmt.Sprintf("unknown action %q; want approve, reject, respond, edit or retry", d.Action)}
	}
	switch d.Actor {
	case "", rebound.ActorPerson, rebound.ActorSupervisor:
	default:
		return &InvalidError{Field: "actor", Reason: fmt.Sprintf("unknown actor %q; want person or supervisor", d.Actor)}
	}
	switch {
	case math.IsNaN(d.Confidence) || d.Confidence < 0 || d.Confidence > 1:
		return &InvalidError{Field: "confidence", Reason: fmt.Sprintf("%v is not between 0 and 1", d.Confidence)}
	case d.Hold < 0:
		return &InvalidError{Field: "hold", Reason: "negative"}
	case d.Hold > 0 && d.Actor != rebound.ActorSupervisor:
		return &InvalidError{Field: "hold", Reason: "only a supervisor's decision is held; a person's acts at once"}
	}
	return checkBy(d.By)
}

// cleanDecision is d as the queue stores it: the actor named (a person when none is), the
// decider's name cleaned, the answer, note and rationale redacted.
func (q *Queue) cleanDecision(d rebound.Decision) rebound.Decision {
	if d.Actor == "" {
		d.Actor = rebound.ActorPerson
	}
	d.Answer, d.Note, d.Rationale = q.redact.Text(d.Answer), q.redact.Text(d.Note), q.redact.Text(d.Rationale)
	d.By = cleanText(d.By)
	return d
}

// ParseAction returns the action named s ("approve", "reject", "respond", "edit", "retry"), or
// an *InvalidError.
func ParseAction(s string) (rebound.Action, error) {
	a := rebound.Action(strings.ToLower(strings.TrimSpace(s)))
	switch a {
	case rebound.ActionApprove, rebound.ActionReject, rebound.ActionRespond, rebound.ActionEdit, rebound.ActionRetry:
		return a, nil
	}
	return "", &InvalidError{Field: "action", Reason: fmt.Sprintf("unknown action %q; want approve, reject, respond, edit or retry", s)}
}

// Resolve records d on the item; its run becomes resumable and, on resume, the escalated step
// receives d. d is checked first (ValidateDecision). The item must be open, or claimed by d.By:
// one claimed by someone else is refused with a *ClaimedError, a decided one with a
// *StatusError. The answer, note and rationale are redacted like everything else; a decision
// that names no actor is recorded as a person's. The audit trail keeps the whole decision.
//
// A supervisor's decision with a Hold is held: the run does not act on it before DecidedAt +
// Hold (Decision reports a *HeldError until then), and a person may replace it meanwhile
// (Override).
func (q *Queue) Resolve(ctx context.Context, id string, d rebound.Decision) (Item, error) {
	if err := ValidateDecision(d); err != nil {
		return Item{}, fmt.Errorf("resolve escalation %q: %w", id, err)
	}
	raw := d.Answer
	d = q.cleanDecision(d)
	return q.decideChecked(ctx, "resolve", id, StatusResolved, d, func(it *Item) error {
		if d.Action != rebound.ActionRespond {
			return nil
		}
		return checkAnswer(it, raw)
	})
}

// Dismiss closes the item without a decision of its own. A run waiting on a dismissed item
// fails as if it had been rejected, with note as the reason. The rules of Resolve apply.
func (q *Queue) Dismiss(ctx context.Context, id, by, note string) (Item, error) {
	if err := checkBy(by); err != nil {
		return Item{}, fmt.Errorf("dismiss escalation %q: %w", id, err)
	}
	by, note = cleanText(by), q.redact.Text(note)
	if strings.TrimSpace(note) == "" {
		note = "dismissed by " + by
	}
	return q.decide(ctx, "dismiss", id, StatusDismissed, rebound.Decision{Action: rebound.ActionReject, Note: note, By: by,
		Actor: rebound.ActorPerson})
}

func (q *Queue) decide(ctx context.Context, op, id string, to Status, d rebound.Decision) (Item, error) {
	return q.decideChecked(ctx, op, id, to, d, nil)
}

// decideChecked is decide, refusing the decision when check (if set) says the item cannot take
// it (a respond whose answer cannot become the step's result).
func (q *Queue) decideChecked(ctx context.Context, op, id string, to Status, d rebound.Decision, check func(it *Item) error) (Item, error) {
	return q.change(ctx, op, id, func(it *Item, t time.Time) (AuditEntry, error) {
		switch {
		case it.Status == StatusClaimed && it.ClaimedBy != d.By:
			return AuditEntry{}, &ClaimedError{ID: id, Op: op, By: it.ClaimedBy, Until: it.ClaimedUntil}
		case it.Status != StatusOpen && it.Status != StatusClaimed:
			return AuditEntry{}, &StatusError{ID: id, Op: op, Status: it.Status}
		}
		if check != nil {
			if err := check(it); err != nil {
				return AuditEntry{}, err
			}
		}
		dd := d
		it.Status, it.Decision, it.DecidedAt, it.ActedAt = to, &dd, t, time.Time{}
		it.ClaimedBy, it.ClaimedUntil = "", time.Time{}
		ev := AuditResolved
		if to == StatusDismissed {
			ev = AuditDismissed
		}
		return decisionEntry(ev, d), nil
	})
}

// Reopen takes a resolved or dismissed item back to open, clearing its decision: for a
// decision made in error. A run that has already resumed on an approve, respond or retry has
// acted on it; a run that has not resumed yet, and one that failed on a rejection or dismissal,
// waits on the item again and receives its new decision. Reopening an item that is open or claimed is refused with a
// *StatusError; reopening one whose step has been escalated again since, with a
// *DuplicateError (both match ErrConflict).
func (q *Queue) Reopen(ctx context.Context, id, by, note string) (Item, error) {
	if err := checkBy(by); err != nil {
		return Item{}, fmt.Errorf("reopen escalation %q: %w", id, err)
	}
	by, note = cleanText(by), q.redact.Text(note)
	return q.change(ctx, "reopen", id, func(it *Item, t time.Time) (AuditEntry, error) {
		if it.Status != StatusResolved && it.Status != StatusDismissed {
			return AuditEntry{}, &StatusError{ID: id, Op: "reopen", Status: it.Status}
		}
		it.Status, it.Decision, it.DecidedAt, it.ActedAt = StatusOpen, nil, time.Time{}, time.Time{}
		return AuditEntry{By: by, Event: AuditReopened, Note: note}, nil
	})
}
