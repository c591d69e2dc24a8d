package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/rebound-go/rebound"
)

// Escalator parks escalations and reports their decisions. Package escalate's Queue implements
// it. Both methods may be called with the run's lease held.
type Escalator interface {
	// Escalate records e and returns its ID.
	Escalate(ctx context.Context, e rebound.Escalation) (id string, err error)
	// Decision returns the decision on the escalation id, with decided false while it is open.
	Decision(ctx context.Context, id string) (d rebound.Decision, decided bool, err error)
}

// EscalateError is what Escalate returns: a step returns it to send its run to a person.
type EscalateError struct {
	Reason  rebound.EscalationReason
	Context string
	Err     error
}

func (e *EscalateError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("escalate (%s): %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("escalate (%s)", e.Reason)
}

// Unwrap returns the failure being escalated.
func (e *EscalateError) Unwrap() error { return e.Err }

// Escalate returns an error that, returned by a step's function, escalates the run with the
// given reason (rebound.ReasonLowConfidence, rebound.ReasonRequiresHuman, or a caller's own)
// and free-text context for the reviewer. err, which may be nil, is the failure to show.
func Escalate(reason rebound.EscalationReason, contextText string, err error) error {
	if reason == "" {
		reason = rebound.ReasonRequiresHuman
	}
	return &EscalateError{Reason: reason, Context: contextText, Err: err}
}

// defaultEscalateOn escalates automatic give-ups: retries spent and breakers open.
func defaultEscalateOn(_ rebound.Class, err error) bool {
	return errors.Is(err, rebound.ErrGaveUp) || errors.Is(err, rebound.ErrCircuitOpen)
}

// lastAnswerer is a failure that keeps the answer it refused (llm.MalformedError: a model's
// answer that stayed unusable after its repairs).
type lastAnswerer interface {
	LastAnswer() (answer, refused string)
}

// maxAnswerShown bounds the refused answer an escalation shows.
const maxAnswerShown = 4000

// giveUpContext is the reviewer's text for an automatic give-up whose last failure refused an
// answer: the answer, and why it was refused.
func giveUpContext(err error) string {
	var la lastAnswerer
	if !errors.As(err, &la) {
		return ""
	}
	answer, why := la.LastAnswer()
	if len(answer) > maxAnswerShown {
		cut := maxAnswerShown
		for cut > 0 && !utf8.RuneStart(answer[cut]) {
			cut--
		}
		answer = answer[:cut] + " [… cut]"
	}
	return fmt.Sprintf("The step's last answer was refused: %s. The answer was:\n\n%s\n\nRespond with the step's result in its place, or retry the step.", why, answer)
}

// escalate parks the step with the Escalator and stops the run.
func (run *Run) escalate(ctx context.Context, base StepRecord, reason rebound.EscalationReason, text string, cause error, attempts int, st *stepState) error {
	esc := run.r.cfg.Escalations
	class, _ := rebound.Classify(cause)
	if esc == nil {
		err := fmt.Errorf("run %q step %q must escalate (%s) but the runner has no Escalator", run.id, base.Name, reason)
		if cause != nil {
			err = fmt.Errorf("%w: %w", err, cause)
		}
		failed := base
		failed.Status, failed.Error, failed.Class, failed.Reason, failed.FinishedAt = StepFailed, run.r.errText(err), class.String(), string(reason), time.Now()
		if reason == rebound.ReasonAmbiguousState {
			// In doubt: keep it so, for the next resume to escalate.
			return run.stop(err)
		}
		if werr := run.record(context.WithoutCancel(ctx), failed, st); werr != nil {
			return run.stop(errors.Join(err, werr))
		}
		return run.stop(err)
	}
	// Filing is a write like any other: a worker whose run has moved on must not leave an item
	// on it. The lease is confirmed here by this worker's clock (renewed if need be), and
	// passed to the Escalator, whose database store may check it in the filing transaction.
	if err := run.confirmLease(ctx, fmt.Sprintf("escalation of step %q", base.Name)); err != nil {
		return run.stop(err)
	}
	lease := run.currentLease()
	e := rebound.Escalation{
		RunID: run.id, Step: base.Name, Reason: reason, Class: class, Err: cause,
		Attempts: attempts, Messages: run.Messages(), State: run.state(base), Context: text,
		LeaseOwner: lease.Owner, LeaseEpoch: lease.Epoch,
	}
	id, err := esc.Escalate(ctx, e)
	if err != nil {
		return run.stop(fmt.Errorf("run %q step %q: escalate (%s): %w", run.id, base.Name, reason, err))
	}
	rec := base
	rec.Status, rec.Reason, rec.EscalationID, rec.Class = StepEscalated, string(reason), id, class.String()
	rec.Result, rec.Checksum = nil, 0
	if cause != nil {
		rec.Error = run.r.errText(cause)
	}
	rec.FinishedAt = time.Now()
	if err := run.record(context.WithoutCancel(ctx), rec, st); err != nil {
		return run.stop(err)
	}
	run.r.emit(ctx, rebound.Event{Kind: rebound.Escalated, RunID: run.id, Step: base.Name, Reason: string(reason),
		EscalationID: id, Class: class, Err: cause, Status: string(StatusEscalated)})
	return run.stop(&EscalatedError{RunID: run.id, Step: base.Name, EscalationID: id, Reason: reason, Err: cause})
}

// state is the JSON snapshot of the run handed to an escalation.
func (run *Run) state(at StepRecord) json.RawMessage {
	run.mu.Lock()
	var done []string
	for _, s := range run.steps {
		if s.Status == StepCompleted {
			done = append(done, s.Name)
		}
	}
	answer := run.answer
	run.mu.Unlock()
	b, _ := json.Marshal(struct {
		RunID          string          `json:"run_id"`
		Workflow       string          `json:"workflow,omitempty"`
		Input          json.RawMessage `json:"input,omitempty"`
		Step           string          `json:"step"`
		Index          int             `json:"index"`
		Key            string          `json:"idempotency_key"`
		Irreversible   bool            `json:"irreversible,omitempty"`
		Executions     int             `json:"executions"`
		CompletedSteps []string        `json:"completed_steps"`
		// Answer says what a person may answer in the step's place (see AnswerSpec).
		Answer *AnswerSpec `json:"answer,omitempty"`
	}{run.id, run.info.Workflow, run.info.Input, at.Name, at.Index, at.Key, at.Irreversible, at.Executions, done, &answer})
	return b
}
