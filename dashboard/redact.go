package dashboard

import (
	"context"
	"encoding/json"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// What a journal holds as the workflow wrote it (the run's input and error, each step's result
// and error, each attempt's error, each message) is shown redacted with the escalation queue's
// rules, so that a key a step returned never reaches a browser. redactedRuns redacts the run's
// summary as it is read (New wraps Config.Runs in it); getRun redacts the rest of a run after
// checkpoint.Get has verified the records against their checksums.
type redactedRuns struct {
	src RunSource
	r   *escalate.Redactor
}

// redactorOf returns the redactor of q when it has one (an *escalate.Queue), else the default.
func redactorOf(q Queue) *escalate.Redactor {
	if rq, ok := q.(interface{ Redactor() *escalate.Redactor }); ok && rq.Redactor() != nil {
		return rq.Redactor()
	}
	return escalate.NewRedactor()
}

func (s redactedRuns) ListRuns(ctx context.Context, f checkpoint.RunFilter) ([]checkpoint.RunInfo, error) {
	runs, err := s.src.ListRuns(ctx, f)
	for i := range runs {
		s.info(&runs[i])
	}
	return runs, err
}

// GetRun redacts the run's summary only: its steps and messages keep the bytes their checksums
// cover, for checkpoint.Get to verify.
func (s redactedRuns) GetRun(ctx context.Context, id string) (*checkpoint.RunRecord, error) {
	rec, err := s.src.GetRun(ctx, id)
	if rec == nil {
		return rec, err
	}
	out := *rec
	s.info(&out.RunInfo)
	return &out, err
}

func (s redactedRuns) info(ri *checkpoint.RunInfo) {
	ri.Input = s.raw(ri.Input)
	ri.Error = s.r.Text(ri.Error)
}

// raw redacts recorded JSON; a record that is not JSON has its text redacted.
func (s redactedRuns) raw(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	if !json.Valid(b) {
		return []byte(s.r.Text(string(b)))
	}
	return s.r.JSON(b)
}

// getRun is checkpoint.Get on the configured runs, its view redacted.
func (s *Server) getRun(ctx context.Context, id string) (*checkpoint.RunView, error) {
	v, err := checkpoint.Get(ctx, s.cfg.Runs, id)
	if v == nil {
		return v, err
	}
	red, _ := s.cfg.Runs.(redactedRuns)
	if red.r == nil {
		red.r = redactorOf(s.cfg.Escalations)
	}
	for i := range v.Steps {
		st := &v.Steps[i]
		st.Result = red.raw(st.Result)
		st.Error = red.r.Text(st.Error)
		st.Attempts = append([]checkpoint.AttemptRecord(nil), st.Attempts...)
		for j := range st.Attempts {
			st.Attempts[j].Error = red.r.Text(st.Attempts[j].Error)
		}
	}
	v.Messages = red.r.Messages(v.Messages)
	return v, err
}
