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
	// failure has the given class, say ClassAuth under rebound.ReasonRequiresHuman. Default none.
	ReasonByClass map[rebound.Class]rebound.EscalationReason
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

// RedactText returns s redacted as the queue redacts an item's text. A checkpoint.Runner whose
// Escalations is the queue applies it to the error texts it journals (checkpoint.Config.Redact).
func (q *Queue) RedactText(s string) string { return q.redact.Text(s) }

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
// When e names the filer's lease and the store keeps the runs' journals too (a FencedStore),
// the item is filed only while the run is still held under that lease; otherwise Escalate
// fails with the store's stale-epoch error (checkpoint.ErrStaleEpoch) and files nothing.
//
// The notifier is called after the item is stored; its failure does not fail Escalate.
func (q *Queue) Escalate(ctx context.Context, e rebound.Escalation) (string, error) {
	t := now()
	var gu *rebound.GiveUpError
	isGiveUp := errors.As(e.Err, &gu)
	reason := rebound.EscalationReason(strings.TrimSpace(string(e.Reason)))
	if reason == "" {
		reason = rebound.ReasonRequiresHuman
		if isGiveUp {
			reason = rebound.ReasonMaxRetriesExceeded
		}
	}
	class := e.Class
	if class == rebound.ClassUnknown && e.Err != nil {
		class, _ = rebound.Classify(e.Err)
	}
	if r, ok := q.cfg.ReasonByClass[class]; ok && reason == rebound.ReasonMaxRetriesExceeded && r != "" {
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
		ID: newID(t), RunID: cleanText(e.RunID), Step: cleanText(e.Step), Reason: rebound.EscalationReason(cleanText(string(reason))), Class: class,
		Attempts: attempts, State: q.redact.JSON(e.State), Messages: q.redact.Messages(msgs),
		Context: q.redact.Text(e.Context), Status: StatusOpen, CreatedAt: t, UpdatedAt: t,
	}
	if e.Err != nil {
		it.Error = q.redact.Text(e.Err.Error())
	}
	a := AuditEntry{ItemID: it.ID, At: t, By: "rebound", Event: AuditEscalated, To: StatusOpen,
		Note: string(reason)}
	var (
		stored  Item
		created bool
		err     error
	)
	if fs, ok := q.store.(FencedStore); ok && e.LeaseEpoch != 0 {
		stored, created, err = fs.InsertEscalationFenced(ctx, it, a, e.LeaseOwner, e.LeaseEpoch)
	} else {
		stored, created, err = q.store.InsertEscalation(ctx, it, a)
	}
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
		f.Reason[i] = rebound.EscalationReason(cleanText(string(r)))
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

// Decision implements checkpoint.Escalator: it reports the decision on the item, if any, for
// the run to act on. A dismissed item reads as a reject whose note is the dismissal's, so the
// run fails. A supervisor's decision still within its hold is reported as a *HeldError
// (matching ErrHeld; the run keeps waiting); once the hold is over, the first call takes the
// decision (Item.ActedAt, audit event taken), after which it can no longer be overridden.
func (q *Queue) Decision(ctx context.Context, id string) (rebound.Decision, bool, error) {
	it, err := q.Get(ctx, id)
	if err != nil {
		return rebound.Decision{}, false, err
	}
	return q.decisionToAct(ctx, it)
}
