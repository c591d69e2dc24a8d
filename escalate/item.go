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
	// Damaged, when not empty, says that the stored item could not be read whole: the damaged
	// field and what is wrong with it ("messages: unexpected end of JSON input"). The fields
	// that could not be read are empty. Only List returns such items (Get fails with the
	// *DamagedError).
	Damaged string
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
	Damaged      string                   `json:"damaged,omitempty"`
}

type decisionJSON struct {
	Action rebound.Action `json:"action"`
	Answer string         `json:"answer,omitempty"`
	Note   string         `json:"note,omitempty"`
	By     string         `json:"by"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// MarshalJSON writes the item with snake_case names: id, run_id, step, reason, status, class,
// error, attempts, state, messages, context, claimed_by, claimed_until, decision (action,
// answer, note, by), created_at, updated_at, decided_at, damaged.
func (it Item) MarshalJSON() ([]byte, error) {
	j := itemJSON{
		ID: it.ID, RunID: it.RunID, Step: it.Step, Reason: it.Reason, Status: it.Status,
		Class: it.Class, Error: it.Error, Attempts: it.Attempts, State: it.State,
		Messages: it.Messages, Context: it.Context, ClaimedBy: it.ClaimedBy,
		ClaimedUntil: timePtr(it.ClaimedUntil), CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
		DecidedAt: timePtr(it.DecidedAt), Damaged: it.Damaged,
	}
	if it.Decision != nil {
		d := *it.Decision
		j.Decision = &decisionJSON{Action: d.Action, Answer: d.Answer, Note: d.Note, By: d.By}
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
	if j.Decision != nil {
		it.Decision = &rebound.Decision{Action: j.Decision.Action, Answer: j.Decision.Answer,
			Note: j.Decision.Note, By: j.Decision.By}
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
)

// AuditEntry is one change of an item: who did what, when, with which note.
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
}

// Filter selects items for List. Zero fields select everything.
type Filter struct {
	// Status keeps items whose status (as seen now: an expired claim is open) is one of these.
	Status []Status
	// Reason keeps items with one of these reasons.
	Reason []rebound.EscalationReason
	// RunID keeps the items of one run.
	RunID string
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
