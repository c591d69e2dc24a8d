package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
)

// RunReader is the read side of a Store: what Get and a reader of runs (a CLI, a dashboard)
// need. Every Store is one.
type RunReader interface {
	GetRun(ctx context.Context, runID string) (*RunRecord, error)
	ListRuns(ctx context.Context, f RunFilter) ([]RunInfo, error)
}

var _ RunReader = Store(nil)

// RunView is a run verified and decoded for display (the CLI's `runs show`, the dashboard's
// run page and API). Its JSON form (MarshalJSON) is the one both print; docs/api.md describes
// it.
type RunView struct {
	RunInfo
	Steps    []StepView
	Messages []rebound.Message
	// Damaged describes each record that failed verification (`step 2, step "outline": result
	// checksum ...`), in journal order; empty for a sound run. Get returns a *CorruptError
	// whenever it is not empty.
	Damaged []string
}

// LeaseState is what a running run's lease says of its worker at a given time (RunInfo.LeaseAt).
type LeaseState string

const (
	// LeaseHeld: a worker holds the run's lease (RunInfo.Owner, until RunInfo.LeaseExpires) and
	// renews it while it runs the run.
	LeaseHeld LeaseState = "held"
	// LeaseExpired: the run is running but its lease ran out: its worker died (a process
	// killed, a machine lost) or stalled past the lease, and nothing runs it until a worker
	// recovers it (WorkerConfig.Recover) or it is resumed. A stalled worker that wakes up
	// before anyone takes the run over carries on.
	LeaseExpired LeaseState = "expired"
)

// LeaseAt returns the state of a running run's lease at now: LeaseHeld before LeaseExpires,
// LeaseExpired from then on. For a run that is not running it returns "": no worker is meant
// to hold it.
func (ri RunInfo) LeaseAt(now time.Time) LeaseState {
	switch {
	case ri.Status != StatusRunning:
		return ""
	case now.Before(ri.LeaseExpires):
		return LeaseHeld
	}
	return LeaseExpired
}

// StepView is one step of a RunView.
type StepView struct {
	Index        int
	Name         string
	Status       StepStatus
	Key          string
	Irreversible bool
	// Result is the recorded result as stored (JSON with the default codec); nil when the step
	// is Damaged.
	Result       []byte
	Error        string
	Class        string
	Reason       string
	EscalationID string
	Executions   int
	StartedAt    time.Time
	FinishedAt   time.Time
	// Duration is FinishedAt-StartedAt of the last execution, 0 while running.
	Duration time.Duration
	// Fallback names the source that answered when a fallback did (the fallback_used event's
	// To, or a degraded message's Source), empty otherwise.
	Fallback string
	// Damaged, when not empty, is why the step's record cannot be trusted (a checksum that does
	// not match, an unknown record version, a record out of place): none of its recorded result
	// is shown.
	Damaged string
	// Attempts are the step's attempt events: failures, retries, fallbacks, breaker changes.
	Attempts []AttemptRecord
}

// Get reads a run from r and verifies its records. A damaged record is a *CorruptError naming
// the run and the step (the first damaged record, if there are several), never a shorter
// history and never data: the view comes back beside the error, for display, with each damaged
// step marked (StepView.Damaged, no Result), damaged messages left out, and every damaged
// record described in RunView.Damaged. A caller that only acts on sound runs checks err first.
func Get(ctx context.Context, r RunReader, runID string) (*RunView, error) {
	rec, err := r.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	v := &RunView{RunInfo: rec.RunInfo}
	var first error
	damage := func(e *CorruptError) {
		v.Damaged = append(v.Damaged, fmt.Sprintf("%s, step %q: %v", e.Record, e.Step, e.Err))
		if first == nil {
			first = e
		}
	}
	for i, st := range rec.Steps {
		sv := StepView{
			Index: st.Index, Name: st.Name, Status: st.Status, Key: st.Key, Irreversible: st.Irreversible,
			Result: st.Result, Error: st.Error, Class: st.Class, Reason: st.Reason, EscalationID: st.EscalationID,
			Executions: st.Executions, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
		}
		if err := verifyStep(st); err != nil || st.Index != i {
			if err == nil {
				err = fmt.Errorf("step index %d where %d was expected", st.Index, i)
			}
			sv.Damaged, sv.Result = err.Error(), nil
			damage(&CorruptError{RunID: runID, Step: st.Name, Record: fmt.Sprintf("step %d", st.Index), Err: err})
		}
		if !st.FinishedAt.IsZero() && !st.StartedAt.IsZero() {
			sv.Duration = st.FinishedAt.Sub(st.StartedAt)
		}
		v.Steps = append(v.Steps, sv)
	}
	if err := verifyStepCount(rec.RunInfo, len(rec.Steps)); err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			damage(ce)
		} else {
			return nil, err
		}
	}
	for _, a := range rec.Attempts {
		if a.Step >= 0 && a.Step < len(v.Steps) {
			st := &v.Steps[a.Step]
			st.Attempts = append(st.Attempts, a)
			if a.Kind == string(rebound.FallbackUsed) {
				st.Fallback = a.To
			}
		}
	}
	msgs, bad := readJournal(rec.RunInfo, rec.Steps, rec.Messages)
	for _, e := range bad {
		damage(e)
	}
	for _, m := range msgs {
		v.Messages = append(v.Messages, m.msg)
		if m.step >= 0 && m.step < len(v.Steps) && m.msg.Degraded && v.Steps[m.step].Fallback == "" {
			v.Steps[m.step].Fallback = m.msg.Source
			if m.msg.Source == "" {
				v.Steps[m.step].Fallback = "a fallback"
			}
		}
	}
	return v, first
}

// KindRefused is the Kind of the AttemptRecord of a call that an open circuit breaker refused:
// nothing was sent, so it is not a failed attempt (the rebound.AttemptFailed event it was, whose
// error matches rebound.ErrCircuitOpen, is journaled under this kind with Reason "breaker_open").
const KindRefused = "refused"

// CountAttempts returns how many attempts one execution of a step made, from the attempt
// events it journaled and whether it completed: each failed attempt (rebound.AttemptFailed,
// except a cancellation, which stops the run rather than failing a call, and a breaker's
// refusal, journaled as KindRefused) plus the one that succeeded; an execution counts one
// attempt at least (a step that failed without an attempt event, or was cut short, still ran).
// It is the one definition of an attempt: RunInfo.AttemptCount is its sum over the run.
func CountAttempts(events []AttemptRecord, completed bool) int {
	n := 0
	for _, a := range events {
		if a.Kind == string(rebound.AttemptFailed) && a.Class != rebound.ClassCanceled.String() {
			n++
		}
	}
	if completed {
		n++
	}
	return max(n, 1)
}
