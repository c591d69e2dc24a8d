package dashboard

import (
	"context"
	"encoding/json"

	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// redactedRuns reads runs through src and redacts, with the escalation queue's rules, what a
// journal holds as the workflow wrote it: the run's input and error, each step's result and
// error, each attempt's error and each message. Pages and the API read runs only through it, so
// a key a step returned never reaches a browser.
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

func (s redactedRuns) GetRun(ctx context.Context, id string) (*checkpoint.RunRecord, error) {
	rec, err := s.src.GetRun(ctx, id)
	if rec == nil {
		return rec, err
	}
	out := *rec
	s.info(&out.RunInfo)
	out.Steps = append([]checkpoint.StepRecord(nil), rec.Steps...)
	for i := range out.Steps {
		st := &out.Steps[i]
		st.Result = s.raw(st.Result)
		st.Error = s.r.Text(st.Error)
	}
	out.Attempts = append([]checkpoint.AttemptRecord(nil), rec.Attempts...)
	for i := range out.Attempts {
		out.Attempts[i].Error = s.r.Text(out.Attempts[i].Error)
	}
	out.Messages = append([]checkpoint.MessageRecord(nil), rec.Messages...)
	for i := range out.Messages {
		out.Messages[i].Body = s.raw(out.Messages[i].Body)
	}
	return &out, err
}

func (s redactedRuns) info(ri *checkpoint.RunInfo) {
	ri.Input = s.raw(ri.Input)
	ri.Error = s.r.Text(ri.Error)
}

// raw redacts recorded JSON; a record that is not JSON is left for the page to report damaged,
// its text redacted.
func (s redactedRuns) raw(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	if !json.Valid(b) {
		return []byte(s.r.Text(string(b)))
	}
	return s.r.JSON(b)
}
