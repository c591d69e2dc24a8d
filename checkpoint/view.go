package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
)

// RunView is a run verified and decoded for display (the CLI's `runs show`, the dashboard).
type RunView struct {
	RunInfo
	Steps    []StepView
	Messages []rebound.Message
}

// StepView is one step of a RunView.
type StepView struct {
	Index        int
	Name         string
	Status       StepStatus
	Key          string
	Irreversible bool
	// Result is the recorded result as stored (JSON with the default codec).
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
	// Attempts are the step's attempt events: failures, retries, fallbacks, breaker changes.
	Attempts []AttemptRecord
}

// Get reads a run from s and verifies its records: a damaged record is a *CorruptError naming
// the run and the step, never a shorter history.
func Get(ctx context.Context, s Store, runID string) (*RunView, error) {
	rec, err := s.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	v := &RunView{RunInfo: rec.RunInfo}
	for i, st := range rec.Steps {
		if err := verifyStep(st); err != nil || st.Index != i {
			if err == nil {
				err = fmt.Errorf("step index %d where %d was expected", st.Index, i)
			}
			return nil, &CorruptError{RunID: runID, Step: st.Name, Record: fmt.Sprintf("step %d", st.Index), Err: err}
		}
		sv := StepView{
			Index: st.Index, Name: st.Name, Status: st.Status, Key: st.Key, Irreversible: st.Irreversible,
			Result: st.Result, Error: st.Error, Class: st.Class, Reason: st.Reason, EscalationID: st.EscalationID,
			Executions: st.Executions, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
		}
		if !st.FinishedAt.IsZero() && !st.StartedAt.IsZero() {
			sv.Duration = st.FinishedAt.Sub(st.StartedAt)
		}
		v.Steps = append(v.Steps, sv)
	}
	if err := verifyStepCount(rec.RunInfo, len(rec.Steps)); err != nil {
		return nil, err
	}
	for _, a := range rec.Attempts {
		if a.Step >= 0 && a.Step < len(v.Steps) {
			v.Steps[a.Step].Attempts = append(v.Steps[a.Step].Attempts, a)
		}
	}
	for i, m := range rec.Messages {
		msg, err := decodeMessage(m, int64(i))
		if err != nil {
			step := "(outside steps)"
			if m.Step >= 0 && m.Step < len(v.Steps) {
				step = v.Steps[m.Step].Name
			}
			return nil, &CorruptError{RunID: runID, Step: step, Record: fmt.Sprintf("message %d", m.Seq), Err: err}
		}
		v.Messages = append(v.Messages, msg)
	}
	return v, nil
}
