package escalate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
)

// Config configures a Queue. The zero value works.
type Config struct {
	// ClaimFor is how long a claim lasts when Claim is given no duration. Default 15 minutes.
	ClaimFor time.Duration
	// RedactFields names fields whose values are redacted, in addition to DefaultRedactFields:
	// JSON keys in the state snapshot and "name: value" pairs in text. Default none.
	RedactFields []string
	// ReasonByClass files a give-up (reason max_retries_exceeded) under another reason when its
	// failure has the given class, say ClassAuth under RequiresHuman. Default none.
	ReasonByClass map[rebound.Class]Reason
	// MaxMessages is how many of the run's most recent messages an item keeps. Default 50;
	// negative keeps none.
	MaxMessages int
	// Notifier is told of every new item, after it is stored (see Notifier). Default none.
	Notifier Notifier
	// NotifyFailed, if set, receives a notifier's error. The failure is also written into the
	// item's audit trail (event notify_failed); the item itself is never lost. Called on the
	// goroutine of Escalate with no lock held. Default none.
	NotifyFailed func(ctx context.Context, it Item, err error)
}

// Queue is the escalation queue: it files what a run cannot resolve by itself, redacted, and
// keeps what reviewers do with it. It implements checkpoint.Escalator. A Queue is safe for
// concurrent use, and several Queues (in several processes) may share one database store.
type Queue struct {
	store  Store
	cfg    Config
	redact *Redactor
}

// NewQueue returns a Queue over store, with cfg's defaults filled in.
func NewQueue(store Store, cfg Config) *Queue {
	if cfg.ClaimFor <= 0 {
		cfg.ClaimFor = 15 * time.Minute
	}
	if cfg.MaxMessages == 0 {
		cfg.MaxMessages = 50
	}
	return &Queue{store: store, cfg: cfg, redact: NewRedactor(cfg.RedactFields...)}
}

// Redactor returns the redactor the queue applies before anything is stored.
func (q *Queue) Redactor() *Redactor { return q.redact }

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newID(t time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("esc_%011x%s", t.UnixMilli(), hex.EncodeToString(b[:]))
}

// Escalate files e as a new open item and returns its ID. Everything is redacted first: the
// error text, the state snapshot (JSON keys named by Config.RedactFields and the defaults, and
// every string in it), the messages and the context. The reason is e.Reason, or
// max_retries_exceeded when e.Err is a *rebound.GiveUpError, else requires_human; a give-up
// whose class Config.ReasonByClass maps is filed under that reason instead. If the run already
// has a waiting item for the same step, its ID is returned and nothing new is filed.
//
// The notifier is called after the item is stored; its failure does not fail Escalate.
func (q *Queue) Escalate(ctx context.Context, e Escalation) (string, error) {
	t := now()
	var gu *rebound.GiveUpError
	isGiveUp := errors.As(e.Err, &gu)
	reason := Reason(strings.TrimSpace(e.Reason))
	if reason == "" {
		reason = RequiresHuman
		if isGiveUp {
			reason = MaxRetriesExceeded
		}
	}
	class := e.Class
	if class == rebound.ClassUnknown && e.Err != nil {
		class, _ = rebound.Classify(e.Err)
	}
	if r, ok := q.cfg.ReasonByClass[class]; ok && reason == MaxRetriesExceeded && r != "" {
		reason = r
	}
	attempts := e.Attempts
	if attempts == 0 && isGiveUp {
		attempts = gu.Attempts
	}
	msgs := e.Messages
	switch {
	case q.cfg.MaxMessages < 0:
		msgs = nil
	case len(msgs) > q.cfg.MaxMessages:
		msgs = msgs[len(msgs)-q.cfg.MaxMessages:]
	}
	it := Item{
		ID: newID(t), RunID: cleanText(e.RunID), Step: cleanText(e.Step), Reason: Reason(cleanText(string(reason))), Class: class,
		Attempts: attempts, State: q.redact.JSON(e.State), Messages: q.redact.Messages(msgs),
		Context: q.redact.Text(e.Context), Status: StatusOpen, CreatedAt: t, UpdatedAt: t,
	}
	if e.Err != nil {
		it.Error = q.redact.Text(e.Err.Error())
	}
	a := AuditEntry{ItemID: it.ID, At: t, By: "rebound", Event: AuditEscalated, To: StatusOpen,
		Note: string(reason)}
	stored, created, err := q.store.InsertEscalation(ctx, it, a)
	if err != nil {
		return "", fmt.Errorf("escalate run %q step %q: %w", e.RunID, e.Step, err)
	}
	if created && q.cfg.Notifier != nil {
		q.notify(ctx, stored)
	}
	return stored.ID, nil
}

func (q *Queue) notify(ctx context.Context, it Item) {
	err := q.cfg.Notifier.Notify(ctx, it)
	if err == nil {
		return
	}
	note := q.redact.Text(err.Error())
	_, _ = q.store.UpdateEscalation(context.WithoutCancel(ctx), it.ID, func(cur *Item) (AuditEntry, error) {
		return AuditEntry{ItemID: it.ID, At: now(), By: "rebound", Event: AuditNotifyFailed,
			From: cur.Status, To: cur.Status, Note: note}, nil
	})
	if q.cfg.NotifyFailed != nil {
		q.cfg.NotifyFailed(ctx, it, err)
	}
}

// Get returns the item with the ID, or an error matching ErrNotFound.
func (q *Queue) Get(ctx context.Context, id string) (Item, error) {
	if cleanText(id) != id {
		return Item{}, fmt.Errorf("get escalation: %w", &NotFoundError{ID: id})
	}
	it, err := q.store.GetEscalation(ctx, id)
	if err != nil {
		return Item{}, fmt.Errorf("get escalation: %w", err)
	}
	return it.settle(now()), nil
}

// List returns the items f selects: open ones first (an expired claim counts as open), then
// claimed, resolved, dismissed; oldest first within each.
func (q *Queue) List(ctx context.Context, f Filter) ([]Item, error) {
	t := now()
	f.RunID = cleanText(f.RunID) // as Escalate stored it
	f.Reason = slices.Clone(f.Reason)
	for i, r := range f.Reason {
		f.Reason[i] = Reason(cleanText(string(r)))
	}
	items, err := q.store.ListEscalations(ctx, f, t)
	if err != nil {
		return nil, fmt.Errorf("list escalations: %w", err)
	}
	for i := range items {
		items[i] = items[i].settle(t)
	}
	return items, nil
}

// Audit returns the item's audit trail, oldest first.
func (q *Queue) Audit(ctx context.Context, id string) ([]AuditEntry, error) {
	if cleanText(id) != id {
		return nil, fmt.Errorf("audit of escalation: %w", &NotFoundError{ID: id})
	}
	a, err := q.store.EscalationAudit(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("audit of escalation: %w", err)
	}
	return a, nil
}

// Stats returns the depth of the queue and the age of its oldest waiting item, in all and per
// reason.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	t := now()
	rs, err := q.store.EscalationStats(ctx, t)
	if err != nil {
		return Stats{}, fmt.Errorf("escalation stats: %w", err)
	}
	s := Stats{ByReason: rs, At: t}
	for _, r := range rs {
		s.Open += r.Open
		s.Claimed += r.Claimed
		s.OldestAge = max(s.OldestAge, r.OldestAge(t))
	}
	return s, nil
}

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
func ValidateDecision(d Decision) error {
	switch d.Action {
	case ActionApprove, ActionReject, ActionRetry:
	case ActionRespond:
		if strings.TrimSpace(d.Answer) == "" {
			return &InvalidError{Field: "answer", Reason: "respond needs an answer"}
		}
	case "":
		return &InvalidError{Field: "action", Reason: "missing; want approve, reject, respond or retry"}
	default:
		return &InvalidError{Field: "action", Reason: fmt.Sprintf("unknown action %q; want approve, reject, respond or retry", d.Action)}
	}
	return checkBy(d.By)
}

// ParseAction returns the action named s ("approve", "reject", "respond", "retry"), or an
// *InvalidError.
func ParseAction(s string) (Action, error) {
	a := Action(strings.ToLower(strings.TrimSpace(s)))
	switch a {
	case ActionApprove, ActionReject, ActionRespond, ActionRetry:
		return a, nil
	}
	return "", &InvalidError{Field: "action", Reason: fmt.Sprintf("unknown action %q; want approve, reject, respond or retry", s)}
}

// Resolve records d on the item; its run becomes resumable and, on resume, the escalated step
// receives d. d is checked first (ValidateDecision). The item must be open, or claimed by d.By:
// one claimed by someone else is refused with a *ClaimedError, a decided one with a
// *StatusError. The answer and note are redacted like everything else.
func (q *Queue) Resolve(ctx context.Context, id string, d Decision) (Item, error) {
	if err := ValidateDecision(d); err != nil {
		return Item{}, fmt.Errorf("resolve escalation %q: %w", id, err)
	}
	d.Answer, d.Note, d.By = q.redact.Text(d.Answer), q.redact.Text(d.Note), cleanText(d.By)
	return q.decide(ctx, "resolve", id, StatusResolved, d)
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
	return q.decide(ctx, "dismiss", id, StatusDismissed, Decision{Action: ActionReject, Note: note, By: by})
}

func (q *Queue) decide(ctx context.Context, op, id string, to Status, d Decision) (Item, error) {
	return q.change(ctx, op, id, func(it *Item, t time.Time) (AuditEntry, error) {
		switch {
		case it.Status == StatusClaimed && it.ClaimedBy != d.By:
			return AuditEntry{}, &ClaimedError{ID: id, Op: op, By: it.ClaimedBy, Until: it.ClaimedUntil}
		case it.Status != StatusOpen && it.Status != StatusClaimed:
			return AuditEntry{}, &StatusError{ID: id, Op: op, Status: it.Status}
		}
		dd := d
		it.Status, it.Decision, it.DecidedAt = to, &dd, t
		it.ClaimedBy, it.ClaimedUntil = "", time.Time{}
		ev := AuditResolved
		if to == StatusDismissed {
			ev = AuditDismissed
		}
		return AuditEntry{By: d.By, Event: ev, Action: d.Action, Note: d.Note}, nil
	})
}

// Reopen takes a resolved or dismissed item back to open, clearing its decision: for a
// decision made in error. A run that has already resumed has acted on the old decision; one
// that has not waits again. Reopening an item that is open or claimed is refused with a
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
		it.Status, it.Decision, it.DecidedAt = StatusOpen, nil, time.Time{}
		return AuditEntry{By: by, Event: AuditReopened, Note: note}, nil
	})
}

// Decision implements checkpoint.Escalator: it reports the decision on the item, if any. A
// dismissed item reads as a reject whose note is the dismissal's, so the run fails.
func (q *Queue) Decision(ctx context.Context, id string) (Decision, bool, error) {
	it, err := q.Get(ctx, id)
	if err != nil {
		return Decision{}, false, err
	}
	if (it.Status != StatusResolved && it.Status != StatusDismissed) || it.Decision == nil {
		return Decision{}, false, nil
	}
	return *it.Decision, true, nil
}
