package checkpoint

import (
	"encoding/json"
	"time"

	"github.com/rebound-go/rebound"
)

// The JSON form of the read model: `rebound runs list --json` and `runs show --json` print it,
// and the dashboard's API serves it (GET /api/v1/runs, /api/v1/runs/{id}). docs/api.md ("Runs
// as JSON") describes every field; this file is its only encoding.

// runInfoJSON is RunInfo's JSON form.
type runInfoJSON struct {
	ID           string          `json:"id"`
	Workflow     string          `json:"workflow"`
	Input        json.RawMessage `json:"input,omitempty"`
	Status       Status          `json:"status"`
	Owner        string          `json:"owner,omitempty"`
	Epoch        int64           `json:"epoch"`
	LeaseExpires *time.Time      `json:"lease_expires,omitempty"`
	Lease        LeaseState      `json:"lease,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	LastStep     string          `json:"last_step,omitempty"`
	StepCount    int             `json:"step_count"`
	AttemptCount int             `json:"attempt_count"`
	EscalationID string          `json:"escalation_id,omitempty"`
	Error        string          `json:"error,omitempty"`
}

func (ri RunInfo) toJSON(now time.Time) runInfoJSON {
	j := runInfoJSON{
		ID: ri.ID, Workflow: ri.Workflow, Status: ri.Status, Owner: ri.Owner, Epoch: ri.Epoch,
		LeaseExpires: timeOrNil(ri.LeaseExpires), Lease: ri.LeaseAt(now), CreatedAt: ri.CreatedAt, UpdatedAt: ri.UpdatedAt,
		LastStep: ri.LastStep, StepCount: ri.StepCount, AttemptCount: ri.AttemptCount,
		EscalationID: ri.EscalationID, Error: ri.Error,
	}
	if json.Valid(ri.Input) {
		j.Input = ri.Input
	}
	return j
}

// MarshalJSON writes the run's summary with snake_case names: id, workflow (empty when the run
// has none), input (omitted when none), status, owner, epoch, lease_expires (omitted when the
// run never had a lease), lease (LeaseAt the time of encoding: "held" or "expired", omitted
// when the run is not running), created_at, updated_at, last_step, step_count, attempt_count,
// escalation_id, error.
func (ri RunInfo) MarshalJSON() ([]byte, error) { return ri.MarshalJSONAt(time.Now()) }

// MarshalJSONAt is MarshalJSON with the lease judged at now, for a reader with its own clock.
func (ri RunInfo) MarshalJSONAt(now time.Time) ([]byte, error) { return json.Marshal(ri.toJSON(now)) }

// MarshalRunsAt encodes runs as a JSON array (empty, never null, for none), each run as
// RunInfo.MarshalJSONAt(now) writes it: what a list of runs prints.
func MarshalRunsAt(runs []RunInfo, now time.Time) ([]byte, error) {
	out := make([]runInfoJSON, len(runs))
	for i, ri := range runs {
		out[i] = ri.toJSON(now)
	}
	return json.Marshal(out)
}

// eventJSON is AttemptRecord's JSON form.
type eventJSON struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"`
	Attempt int       `json:"attempt,omitempty"`
	Class   string    `json:"class,omitempty"`
	DelayMS *int64    `json:"delay_ms,omitempty"`
	Model   string    `json:"model,omitempty"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// MarshalJSON writes the event: time, event (its kind: attempt_failed, retry_scheduled,
// fallback_used, breaker_changed, gave_up), attempt, class, delay_ms (the wait before the next
// attempt: always present on retry_scheduled, even when 0, and on any event with a delay),
// model, from, to, reason, error.
func (a AttemptRecord) MarshalJSON() ([]byte, error) {
	e := eventJSON{Time: a.Time, Event: a.Kind, Attempt: a.Attempt, Class: a.Class, Model: a.Model,
		From: a.From, To: a.To, Reason: a.Reason, Error: a.Error}
	if a.Delay > 0 || a.Kind == string(rebound.RetryScheduled) {
		ms := a.Delay.Milliseconds()
		e.DelayMS = &ms
	}
	return json.Marshal(e)
}

// stepJSON is StepView's JSON form.
type stepJSON struct {
	Index        int             `json:"index"`
	Name         string          `json:"name"`
	Status       StepStatus      `json:"status"`
	Irreversible bool            `json:"irreversible,omitempty"`
	Executions   int             `json:"executions"`
	StartedAt    *time.Time      `json:"started_at,omitempty"`
	FinishedAt   *time.Time      `json:"finished_at,omitempty"`
	DurationMS   int64           `json:"duration_ms"`
	Fallback     string          `json:"fallback,omitempty"`
	Error        string          `json:"error,omitempty"`
	Class        string          `json:"class,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	EscalationID string          `json:"escalation_id,omitempty"`
	Result       json.RawMessage `json:"result,omitempty"`
	Damaged      string          `json:"damaged,omitempty"`
	Events       []AttemptRecord `json:"events"`
}

// MarshalJSON writes the step: index, name, status, irreversible, executions, started_at,
// finished_at, duration_ms, fallback, error, class, reason, escalation_id, result (the recorded
// result when it is JSON), damaged (why the record cannot be trusted; no result then) and
// events (its attempt events, always an array).
func (sv StepView) MarshalJSON() ([]byte, error) {
	j := stepJSON{
		Index: sv.Index, Name: sv.Name, Status: sv.Status, Irreversible: sv.Irreversible,
		Executions: sv.Executions, StartedAt: timeOrNil(sv.StartedAt), FinishedAt: timeOrNil(sv.FinishedAt),
		DurationMS: sv.Duration.Milliseconds(), Fallback: sv.Fallback, Error: sv.Error, Class: sv.Class,
		Reason: sv.Reason, EscalationID: sv.EscalationID, Damaged: sv.Damaged, Events: sv.Attempts,
	}
	if sv.Damaged == "" && json.Valid(sv.Result) {
		j.Result = sv.Result
	}
	if j.Events == nil {
		j.Events = []AttemptRecord{}
	}
	return json.Marshal(j)
}

// MarshalJSON writes the run's summary (as RunInfo does) and beside it steps (always an
// array), message_count, and damaged (the damaged records, omitted for a sound run). Messages
// are counted, not written: they are the run's conversation, journaled unredacted.
func (v RunView) MarshalJSON() ([]byte, error) { return v.MarshalJSONAt(time.Now()) }

// MarshalJSONAt is MarshalJSON with the lease judged at now, for a reader with its own clock.
func (v RunView) MarshalJSONAt(now time.Time) ([]byte, error) {
	steps := v.Steps
	if steps == nil {
		steps = []StepView{}
	}
	return json.Marshal(struct {
		runInfoJSON
		Steps        []StepView `json:"steps"`
		MessageCount int        `json:"message_count"`
		Damaged      []string   `json:"damaged,omitempty"`
	}{v.RunInfo.toJSON(now), steps, len(v.Messages), v.Damaged})
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
