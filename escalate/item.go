package escalate

import (
	"encoding/json"
	"time"

	"github.com/rebound-go/rebound"
)

// Status is where an item is in its life.
type Status string

// The statuses. An item starts open; a reviewer may claim it for a while; it ends resolved (with
// a decision) or dismissed (which the run treats as a reject). Reopen takes it back to open.
const (
	StatusOpen      Status = "open"
	StatusClaimed   Status = "claimed"
	StatusResolved  Status = "resolved"
	StatusDismissed Status = "dismissed"
)

// Item is one escalation: everything a reviewer needs, redacted before it was stored.
type Item struct {
	ID    string
	RunID string
	Step  string
	// Reason is why the item was escalated.
	Reason rebound.EscalationReason
	// Class is the class of the failure, if there was one.
	Class rebound.Class
	// Error is the failure's text, redacted.
	Error string
	// Attempts is how many attempts were made before escalating.
	Attempts int
	// State is a redacted JSON snapshot of the run's state (nil when none).
	State json.RawMessage
	// Messages are the run's recent messages, redacted.
	Messages []rebound.Message
	// Context is free text for the reviewer, redacted.
	Context string
	// Status is the item's status. A claim that has expired reads as StatusOpen.
	Status Status
	// ClaimedBy and ClaimedUntil name the reviewer holding the item and until when; empty when
	// the item is not claimed.
	ClaimedBy    string
	ClaimedUntil time.Time
	// Decision is set once the item is resolved or dismissed (a dismissal reads as a reject).
	Decision *rebound.Decision
	// CreatedAt is when the item was escalated, UpdatedAt when it last changed, DecidedAt when it
	// was resolved or dismissed (zero before). Times are UTC, to the microsecond.
	CreatedAt time.Time
	UpdatedAt time.Time
	DecidedAt time.Time
	// ActedAt is when the run took a held decision (a supervisor's, with a Hold) to act on it:
	// the first time it read the decision once the hold was over. From then on nobody can
	// override the decision. Zero for a decision without a hold, and before.
	ActedAt time.Time
	// Damaged, when not empty, says that the stored item could not be read whole: the damaged
	// field and what is wrong with it ("messages: unexpected end of JSON input"). The fields
	// that could not be read are empty. Only List returns such items (Get fails with the
	// *DamagedError).
	Damaged string
}

// HoldUntil is when the hold of the item's decision ends: DecidedAt plus the Hold of a
// supervisor's decision. Zero when the decision has no hold (a person's decision never has).
func (it Item) HoldUntil() time.Time {
	d := it.Decision
	if d == nil || d.Actor != rebound.ActorSupervisor || d.Hold <= 0 || it.DecidedAt.IsZero() {
		return time.Time{}
	}
	return it.DecidedAt.Add(d.Hold)
}

// Held reports whether, at now, the item's decision is a supervisor's still within its hold and
// not yet acted on: the run must not act on it, and a person may override it (Queue.Override).
func (it Item) Held(now time.Time) bool {
	u := it.HoldUntil()
	return !u.IsZero() && now.Before(u) && it.ActedAt.IsZero() && it.Status == StatusResolved
}

// DecidedByActor is the kind of decider of the item's decision (a decision that does not name
// one was a person's), or "" when the item has no decision.
func (it Item) DecidedByActor() rebound.Actor {
	if it.Decision == nil {
		return ""
	}
	if it.Decision.Actor == "" {
		return rebound.ActorPerson
	}
	return it.Decision.Actor
}

// Age is how long the item has existed at now.
func (it Item) Age(now time.Time) time.Duration { return now.Sub(it.CreatedAt) }

// settle returns the item as seen at now: a claim that has expired reads as open and unclaimed.
func (it Item) settle(now time.Time) Item {
	if it.Status == StatusClaimed && !it.ClaimedUntil.After(now) {
		it.Status = StatusOpen
		it.ClaimedBy = ""
		it.ClaimedUntil = time.Time{}
	}
	return it
}

// itemJSON is Item's JSON form (field names in snake_case, as `rebound escalations list --json`
// prints them).
type itemJSON struct {
	ID           string                   `json:"id"`
	RunID        string                   `json:"run_id"`
	Step         string                   `json:"step"`
	Reason       rebound.EscalationReason `json:"reason"`
	Status       Status                   `json:"status"`
	Class        rebound.Class            `json:"class"`
	Error        string                   `json:"error"`
	Attempts     int                      `json:"attempts"`
	State        json.RawMessage          `json:"state,omitempty"`
	Messages     []rebound.Message        `json:"messages,omitempty"`
	Context      string                   `json:"context,omitempty"`
	ClaimedBy    string                   `json:"claimed_by,omitempty"`
	ClaimedUntil *time.Time               `json:"claimed_until,omitempty"`
	Decision     *decisionJSON            `json:"decision,omitempty"`
	CreatedAt    time.Time                `json:"created_at"`
	UpdatedAt    time.Time                `json:"updated_at"`
	DecidedAt    *time.Time               `json:"decided_at,omitempty"`
	ActedAt      *time.Time               `json:"acted_at,omitempty"`
	Damaged      string                   `json:"damaged,omitempty"`
}

type decisionJSON struct {
	Action     rebound.Action `json:"action"`
	Answer     string         `json:"answer,omitempty"`
	Note       string         `json:"note,omitempty"`
	By         string         `json:"by"`
	Actor      rebound.Actor  `json:"actor,omitempty"`
	Rationale  string         `json:"rationale,omitempty"`
	Confidence float64        `json:"confidence,omitempty"`
	// HoldNS is the hold in nanoseconds; HoldUntil (written, not read) when it ends.
	HoldNS    int64      `json:"hold_ns,omitempty"`
	HoldUntil *time.Time `json:"hold_until,omitempty"`
}

func decisionToJSON(d rebound.Decision) *decisionJSON {
	return &decisionJSON{Action: d.Action, Answer: d.Answer, Note: d.Note, By: d.By, Actor: d.Actor,
		Rationale: d.Rationale, Confidence: d.Confidence, HoldNS: int64(d.Hold)}
}

func (j *decisionJSON) decision() *rebound.Decision {
	return &rebound.Decision{Action: j.Action, Answer: j.Answer, Note: j.Note, By: j.By, Actor: j.Actor,
		Rationale: j.Rationale, Confidence: j.Confidence, Hold: time.Duration(j.HoldNS)}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// MarshalJSON writes the item with snake_case names: id, run_id, step, reason, status, class,
// error, attempts, state, messages, context, claimed_by, claimed_until, decision (action,
// answer, note, by, actor, rationale, confidence, hold_ns and, for a decision with a hold,
// hold_until), created_at, updated_at, decided_at, acted_at, damaged.
func (it Item) MarshalJSON() ([]byte, error) {
	j := itemJSON{
		ID: it.ID, RunID: it.RunID, Step: it.Step, Reason: it.Reason, Status: it.Status,
		Class: it.Class, Error: it.Error, Attempts: it.Attempts, State: it.State,
		Messages: it.Messages, Context: it.Context, ClaimedBy: it.ClaimedBy,
		ClaimedUntil: timePtr(it.ClaimedUntil), CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
		DecidedAt: timePtr(it.DecidedAt), ActedAt: timePtr(it.ActedAt), Damaged: it.Damaged,
	}
	if it.Decision != nil {
		j.Decision = decisionToJSON(*it.Decision)
		j.Decision.HoldUntil = timePtr(it.HoldUntil())
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (it *Item) UnmarshalJSON(b []byte) error {
	var j itemJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*it = Item{
		ID: j.ID, RunID: j.RunID, Step: j.Step, Reason: j.Reason, Status: j.Status,
		Class: j.Class, Error: j.Error, Attempts: j.Attempts, State: j.State,
		Messages: j.Messages, Context: j.Context, ClaimedBy: j.ClaimedBy,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, Damaged: j.Damaged,
	}
	if j.ClaimedUntil != nil {
		it.ClaimedUntil = *j.ClaimedUntil
	}
	if j.DecidedAt != nil {
		it.DecidedAt = *j.DecidedAt
	}
	if j.ActedAt != nil {
		it.ActedAt = *j.ActedAt
	}
	if j.Decision != nil {
		it.Decision = j.Decision.decision()
	}
	return nil
}

// AuditEvent names a change in an item's audit trail.
type AuditEvent string

// The audit events.
const (
	AuditEscalated    AuditEvent = "escalated"
	AuditClaimed      AuditEvent = "claimed"
	AuditReleased     AuditEvent = "released"
	AuditResolved     AuditEvent = "resolved"
	AuditDismissed    AuditEvent = "dismissed"
	AuditReopened     AuditEvent = "reopened"
	AuditNotifyFailed AuditEvent = "notify_failed"
	// AuditRouted: a supervisor looked at the item and handed it to a person; the note gives
	// its rationale and the risk it saw. The item stays open.
	AuditRouted AuditEvent = "routed"
	// AuditSupervisorUnavailable: a supervisor could not give a usable verdict (timeout, error,
	// invalid verdict, budget spent). The item stays open for a person; this is never a denial.
	AuditSupervisorUnavailable AuditEvent = "supervisor_unavailable"
	// AuditOverridden: a person replaced a supervisor's decision during its hold, before the
	// run acted on it. The entry's action is the person's; the superseded decision stays in
	// the trail.
	AuditOverridden AuditEvent = "overridden"
	// AuditTaken: the run took a held decision to act on it, once its hold was over; from then
	// on nobody can override it.
	AuditTaken AuditEvent = "taken"
)

// AuditEntry is one change of an item: who did what, when, with which note. The trail is
// append-only: a decision's entry (resolved, dismissed, overridden) keeps the whole decision
// (action, answer, note, decider and the kind of decider, rationale, confidence, hold), so a
// decision replaced later (reopened, overridden) stays readable next to what replaced it.
type AuditEntry struct {
	ItemID string     `json:"item_id"`
	At     time.Time  `json:"at"`
	By     string     `json:"by"`
	Event  AuditEvent `json:"event"`
	// From and To are the item's status before and after (equal for notify_failed).
	From Status `json:"from,omitempty"`
	To   Status `json:"to"`
	// Action is the decision's action, for resolved and dismissed.
	Action rebound.Action `json:"action,omitempty"`
	// Note is the reviewer's note (redacted), or for notify_failed the notifier's error.
	Note string `json:"note,omitempty"`
	// Actor, Answer, Rationale, Confidence and Hold are the rest of the decision, for resolved,
	// dismissed and overridden (redacted like the note). A supervisor's routed and
	// supervisor_unavailable entries may set Actor, Rationale and Confidence too.
	Actor      rebound.Actor `json:"actor,omitempty"`
	Answer     string        `json:"answer,omitempty"`
	Rationale  string        `json:"rationale,omitempty"`
	Confidence float64       `json:"confidence,omitempty"`
	Hold       time.Duration `json:"hold_ns,omitempty"`
}

// Decision returns the decision the entry records (for resolved, dismissed and overridden).
func (a AuditEntry) Decision() rebound.Decision {
	return rebound.Decision{Action: a.Action, Answer: a.Answer, Note: a.Note, By: a.By, Actor: a.Actor,
		Rationale: a.Rationale, Confidence: a.Confidence, Hold: a.Hold}
}

// decisionEntry is the audit entry of decision d.
func decisionEntry(ev AuditEvent, d rebound.Decision) AuditEntry {
	return AuditEntry{By: d.By, Event: ev, Action: d.Action, Note: d.Note, Actor: d.Actor, Answer: d.Answer,
		Rationale: d.Rationale, Confidence: d.Confidence, Hold: d.Hold}
}

// Filter selects items for List. Zero fields select everything.
type Filter struct {
	// Status keeps items whose status (as seen now: an expired claim is open) is one of these.
	Status []Status
	// Reason keeps items with one of these reasons.
	Reason []rebound.EscalationReason
	// RunID keeps the items of one run.
	RunID string
	// Actor keeps decided items whose decision was taken by one of these kinds of decider (a
	// decision that names none was a person's).
	Actor []rebound.Actor
	// DecidedBy keeps decided items whose decider is exactly this name (a person's, or a
	// supervisor's "model policy:version").
	DecidedBy string
	// OlderThan keeps items created at least this long ago; NewerThan items created less than
	// this long ago.
	OlderThan, NewerThan time.Duration
	// Limit caps the number of items returned (0: no cap).
	Limit int
}

// ReasonStats is the depth of the queue for one reason.
type ReasonStats struct {
	Reason rebound.EscalationReason `json:"reason"`
	// Open counts the items waiting for a decision (open or claimed); Claimed those of them a
	// reviewer holds now.
	Open    int `json:"open"`
	Claimed int `json:"claimed"`
	// OldestCreatedAt is when the oldest waiting item was escalated (zero when Open is 0).
	OldestCreatedAt time.Time `json:"oldest_created_at"`
}

// Stats is the queue's depth, for alerting.
type Stats struct {
	// Open counts items waiting for a decision (open or claimed); Claimed those held now.
	Open    int `json:"open"`
	Claimed int `json:"claimed"`
	// OldestAge is the age of the oldest waiting item (0 when none).
	OldestAge time.Duration `json:"oldest_age_ns"`
	// ByReason has one entry per reason with waiting items, sorted by reason.
	ByReason []ReasonStats `json:"by_reason"`
	// At is when the figures were taken.
	At time.Time `json:"at"`
}

// OldestAge returns the age at now of the oldest waiting item of this reason.
func (s ReasonStats) OldestAge(now time.Time) time.Duration {
	if s.Open == 0 || s.OldestCreatedAt.IsZero() {
		return 0
	}
	return now.Sub(s.OldestCreatedAt)
}
