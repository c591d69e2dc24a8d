package checkpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
)

// Codec encodes step results for the journal. JSON is the default.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// JSON is the default Codec, encoding/json.
var JSON Codec = jsonCodec{}

// StepOption configures one step.
type StepOption func(*stepOptions)

type stepOptions struct {
	codec        Codec
	irreversible bool
	approval     bool
	approveDoes  string // what approving will do, for the reviewer
	// decides is set by DecidesItself; decision then receives the decision to hand the
	// step's function.
	decides  bool
	decision *decisionSlot
	// answer is what a person may answer in the step's place (see AnswerSpec).
	answer AnswerSpec
}

type decisionSlot struct {
	d  rebound.Decision
	ok bool
}

// Irreversible marks a step whose effect cannot be repeated safely (a payment, an email, a
// publication). Found in doubt on resume (intent recorded, no result), or failed with an error
// that does not say whether it took effect (a timeout, a cut connection, a 5xx, an unknown
// error), it is never re-run blindly: the run escalates with reason ambiguous_state. Approve
// re-runs it; respond supplies its result. A failure the server refused before any effect (rate
// limited, overloaded, invalid, auth, quota, content policy, context overflow) runs it again.
func Irreversible() StepOption { return func(o *stepOptions) { o.irreversible = true } }

// NeedsApproval makes the step escalate with reason irreversible_action before it runs; it runs
// (once) when the escalation is approved. what, when given, says what approving will do
// ("publish the report to reports/r1.md"): it is the escalation's context, which the dashboard
// and `rebound escalations show` put beside the decision.
func NeedsApproval(what ...string) StepOption {
	return func(o *stepOptions) {
		o.approval = true
		o.approveDoes = strings.TrimSpace(strings.Join(what, " "))
	}
}

// DecidesItself makes the step's function receive the decision on its escalation instead of
// the Runner applying it: once the escalation is decided, whatever the action (edit and actions
// of the caller's own included), the function runs again with the decision in its context
// (DecisionOf) and its result is the step's result. Package agent's tool calls use it, so that
// a rejected call becomes an error result the model reads rather than a failed run.
func DecidesItself() StepOption { return func(o *stepOptions) { o.decides = true } }

type decisionCtx struct{}

// DecisionOf returns the decision on the escalation of the step whose context ctx is, when the
// step runs again because of it (see DecidesItself); ok is false otherwise.
func DecisionOf(ctx context.Context) (d rebound.Decision, ok bool) {
	d, ok = ctx.Value(decisionCtx{}).(rebound.Decision)
	return d, ok
}

// WithCodec encodes the step's result with c instead of JSON.
func WithCodec(c Codec) StepOption { return func(o *stepOptions) { o.codec = c } }

type keyCtx struct{}

// IdempotencyKey returns the idempotency key of the step whose context ctx is: the same on every
// attempt and on every resume of that step, different for every step of every run. Pass it to
// APIs that deduplicate (an Idempotency-Key header). Empty outside a step.
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

func newKey(runID string, idx int, name string) string {
	h := sha256.Sum256([]byte(runID + "\x00" + strconv.Itoa(idx) + "\x00" + name))
	return hex.EncodeToString(h[:16])
}

// Step runs fn as the next step of run, named name, unless the run already recorded it: a
// completed step returns its recorded result without running (and replays the messages it
// appended). The intent is recorded before fn runs and the result before Step returns.
//
// fn's context carries the step's idempotency key (IdempotencyKey) and a rebound.Scope whose
// Hook journals the attempt events of retries, breakers and fallbacks inside the step.
//
// A failure of fn fails the run and is returned, unless it escalates: an error made with
// Escalate, or an automatic give-up (see Config.EscalateOn), sends the run to the Escalator and
// Step returns a *EscalatedError. After an escalating or failing step the run stops: later Step
// calls return the same error without running.
func Step[T any](ctx context.Context, run *Run, name string, fn func(ctx context.Context) (T, error), opts ...StepOption) (T, error) {
	o := stepOptions{codec: JSON, answer: answerSpecOf[T]()}
	for _, opt := range opts {
		opt(&o)
	}
	var zero T
	exec := func(ctx context.Context) ([]byte, error) {
		v, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		b, err := o.codec.Marshal(v)
		if err != nil {
			return nil, rebound.Permanent(fmt.Errorf("encode result: %w", err))
		}
		return b, nil
	}
	respond := func(answer string) ([]byte, error) {
		v, err := decodeAnswer[T](answer)
		if err != nil {
			return nil, err
		}
		return o.codec.Marshal(v)
	}
	b, err := run.step(ctx, name, o, exec, respond)
	if err != nil {
		return zero, err
	}
	var v T
	if err := o.codec.Unmarshal(b, &v); err != nil {
		return zero, run.stop(&CorruptError{RunID: run.id, Step: name, Record: "result", Err: err})
	}
	return v, nil
}

// step runs one step: it takes the step's place in the journal, resumes it from its record if
// there is one (resume), asks for approval if the step needs it, and otherwise executes it.
func (run *Run) step(ctx context.Context, name string, o stepOptions,
	exec func(context.Context) ([]byte, error), respond func(string) ([]byte, error)) ([]byte, error) {
	idx, rec, err := run.enter(name)
	if err != nil {
		return nil, err
	}
	run.mu.Lock()
	run.answer = o.answer // for the state snapshot of an escalation of this step
	run.mu.Unlock()
	base := StepRecord{Index: idx, Name: name, Key: newKey(run.id, idx, name), Irreversible: o.irreversible, Version: RecordVersion}
	approved := false
	if o.decides {
		o.decision = new(decisionSlot)
	}
	if rec != nil {
		base.Key, base.Executions, base.StartedAt = rec.Key, rec.Executions, rec.StartedAt
		var result []byte
		var done bool
		if result, done, approved, err = run.resume(ctx, base, rec, o, respond); done || err != nil {
			return result, err
		}
		if o.decision != nil && o.decision.ok {
			ctx = context.WithValue(ctx, decisionCtx{}, o.decision.d)
		}
	}
	if o.approval && !approved {
		why := "the step needs approval before it runs"
		if o.approveDoes != "" {
			why = "Approving will " + o.approveDoes
		}
		return nil, run.escalate(ctx, base, rebound.ReasonIrreversibleAction, why, nil, 0, nil)
	}
	return run.execute(ctx, base, exec)
}

// enter takes the next step's place: its index, and its record when the journal has one. A
// stopped run, a step inside a step, a step without a name and a step whose recorded name
// differs are errors.
func (run *Run) enter(name string) (int, *StepRecord, error) {
	run.mu.Lock()
	if run.halt != nil {
		err := run.halt
		run.mu.Unlock()
		return 0, nil, err
	}
	if run.cur != nil {
		run.mu.Unlock()
		return 0, nil, fmt.Errorf("run %q: step %q called inside another step", run.id, name)
	}
	idx := run.next
	run.next++
	var rec *StepRecord
	if idx < len(run.steps) {
		rec = &run.steps[idx]
	}
	run.mu.Unlock()
	if name == "" {
		return 0, nil, run.stop(fmt.Errorf("run %q: step %d has no name", run.id, idx))
	}
	if rec != nil && rec.Name != name {
		return 0, nil, run.stop(&WorkflowChangedError{RunID: run.id, Index: idx, Recorded: rec.Name, Called: name})
	}
	return idx, rec, nil
}

// resume decides what a step found in the journal does. done is true when the step is settled
// without running (its result, or err); otherwise it runs, approved when a reviewer approved it
// (or asked for a retry).
func (run *Run) resume(ctx context.Context, base StepRecord, rec *StepRecord, o stepOptions,
	respond func(string) ([]byte, error)) (result []byte, done, approved bool, err error) {
	status := rec.Status
	if status == StepFailed && rec.EscalationID != "" && run.r.cfg.Escalations != nil {
		// Failed by a reviewer's rejection: it stands while it stands, but an item reopened
		// since (a decision made in error) is waited on again and its new decision applies.
		status = StepEscalated
	}
	switch status {
	case StepCompleted:
		if err := run.consumeMessages(base.Index); err != nil {
			return nil, true, false, run.stop(err)
		}
		run.r.emit(ctx, rebound.Event{Kind: rebound.StepSkipped, RunID: run.id, Step: base.Name, Status: string(StepCompleted)})
		return rec.Result, true, false, nil
	case StepEscalated:
		return run.decided(ctx, base, rec, o, respond)
	case StepStarted:
		// In doubt: the step may or may not have taken effect.
		if o.irreversible {
			text := "the step's intent was recorded but not its result: it may or may not have taken effect."
			if p := run.previousOwner(); p != "" {
				text += " " + p
			}
			return nil, true, false, run.escalate(ctx, base, rebound.ReasonAmbiguousState, text, nil, 0, nil)
		}
		// Idempotent: run again with the same key.
	case StepFailed:
		// Run again, unless an irreversible step failed in a way that leaves its effect in
		// doubt (a timeout, a cut connection, an error nobody classified): that is escalated
		// like a step found in doubt, never re-run blindly.
		if o.irreversible && !failedBeforeEffect(rec.Class) {
			return nil, true, false, run.escalate(ctx, base, rebound.ReasonAmbiguousState,
				"the step failed with a "+orUnknown(rec.Class)+" error, which does not say whether it took effect: "+rec.Error, nil, 0, nil)
		}
	}
	return nil, false, false, nil
}

// decided applies the decision on an escalated step: still open, the run waits again
// (*EscalatedError); respond records the answer as the result, reject fails the run, approve and
// retry let the step run.
func (run *Run) decided(ctx context.Context, base StepRecord, rec *StepRecord, o stepOptions,
	respond func(string) ([]byte, error)) (result []byte, done, approved bool, err error) {
	name := base.Name
	esc := run.r.cfg.Escalations
	if esc == nil {
		return nil, true, false, run.stop(fmt.Errorf("run %q step %q waits on escalation %s, but the runner has no Escalator", run.id, name, rec.EscalationID))
	}
	d, decided, err := esc.Decision(ctx, rec.EscalationID)
	var h held
	if errors.As(err, &h) {
		// A supervisor's decision on hold: not yet to act on. The run keeps waiting.
		return nil, true, false, run.stop(&EscalatedError{RunID: run.id, Step: name, EscalationID: rec.EscalationID,
			Reason: rebound.EscalationReason(rec.Reason), Err: &HeldError{EscalationID: rec.EscalationID, Until: h.HeldUntil(), Err: err}})
	}
	if err != nil {
		return nil, true, false, run.stop(fmt.Errorf("run %q step %q: read decision on escalation %s: %w", run.id, name, rec.EscalationID, err))
	}
	if !decided {
		return nil, true, false, run.stop(&EscalatedError{RunID: run.id, Step: name, EscalationID: rec.EscalationID, Reason: rebound.EscalationReason(rec.Reason)})
	}
	if o.decision != nil {
		// The step decides for itself (DecidesItself): it runs with the decision.
		o.decision.d, o.decision.ok = d, true
		return nil, false, true, nil
	}
	switch d.Action {
	case rebound.ActionRespond:
		b, err := respond(d.Answer)
		if err != nil {
			// A queue that knows the step's AnswerSpec refuses such an answer when it is given;
			// one that got through anyway does not fail the run: the step asks again.
			text := fmt.Sprintf("The answer given on escalation %s could not become the step's result (%v). Answer again, or retry the step.", rec.EscalationID, err)
			return nil, true, false, run.escalate(ctx, base, rebound.EscalationReason(rec.Reason), text, nil, 0, nil)
		}
		done := base
		done.Status, done.Result, done.Checksum = StepCompleted, b, checksum(b)
		done.EscalationID, done.Reason = rec.EscalationID, rec.Reason
		done.FinishedAt = time.Now()
		if err := run.record(ctx, done, nil); err != nil {
			return nil, true, false, run.stop(err)
		}
		run.r.emit(ctx, rebound.Event{Kind: rebound.StepCompleted, RunID: run.id, Step: name, Status: string(StepCompleted), EscalationID: rec.EscalationID})
		return b, true, false, nil
	case rebound.ActionReject:
		rej := &RejectedError{RunID: run.id, Step: name, EscalationID: rec.EscalationID, By: d.By, Note: d.Note}
		failed := base
		failed.Status, failed.Error, failed.Reason, failed.EscalationID = StepFailed, run.r.errText(rej), rec.Reason, rec.EscalationID
		failed.FinishedAt = time.Now()
		if err := run.record(ctx, failed, nil); err != nil {
			return nil, true, false, run.stop(err)
		}
		return nil, true, false, run.stop(rej)
	case rebound.ActionApprove, rebound.ActionRetry:
		return nil, false, true, nil
	}
	return nil, true, false, run.stop(fmt.Errorf("run %q step %q: unknown decision %q on escalation %s", run.id, name, d.Action, rec.EscalationID))
}

func (run *Run) execute(ctx context.Context, base StepRecord, exec func(context.Context) ([]byte, error)) ([]byte, error) {
	if base.Irreversible {
		// Refused here, the step leaves nothing in doubt.
		if err := run.confirmLease(ctx, fmt.Sprintf("irreversible step %q", base.Name)); err != nil {
			return nil, run.stop(err)
		}
	}
	intent := base
	intent.Status = StepStarted
	intent.Executions++
	intent.StartedAt = time.Now()
	intent.FinishedAt = time.Time{}
	run.mu.Lock()
	run.lastStep = base.Name
	run.attemptCount++
	if base.Index < len(run.steps) {
		run.steps[base.Index] = intent
	} else {
		run.steps = append(run.steps, intent)
	}
	up := run.summaryLocked()
	err := run.writeLocked(ctx, Write{Steps: []StepRecord{intent}, Run: &up})
	run.mu.Unlock()
	if err != nil {
		return nil, run.stop(err)
	}
	run.r.emit(ctx, rebound.Event{Kind: rebound.StepStarted, RunID: run.id, Step: base.Name, Attempt: intent.Executions})
	if base.Irreversible {
		// Again after the intent, whose write may have stalled: a worker paused here past its
		// lease must not act after its successor has found the step in doubt.
		if err := run.confirmLease(ctx, fmt.Sprintf("irreversible step %q", base.Name)); err != nil {
			return nil, run.stop(err)
		}
	}

	st := &stepState{index: base.Index}
	run.mu.Lock()
	run.cur = st
	mark := len(run.visible)
	run.mu.Unlock()
	sctx := context.WithValue(ctx, keyCtx{}, intent.Key)
	sctx = context.WithValue(sctx, fenceCtx{}, FencingToken{RunID: run.id, Epoch: run.currentLease().Epoch, Key: intent.Key})
	sctx = rebound.WithScope(sctx, rebound.Scope{RunID: run.id, Step: base.Name, Hook: run.stepHook(st)})
	b, ferr := exec(sctx)
	run.mu.Lock()
	run.cur = nil
	if ferr != nil {
		run.visible = run.visible[:mark] // a failed step leaves no messages
	}
	run.mu.Unlock()

	if ferr == nil {
		done := intent
		done.Status, done.Result, done.Checksum, done.FinishedAt = StepCompleted, b, checksum(b), time.Now()
		// The effect has happened: record it even if ctx has just ended.
		if err := run.record(context.WithoutCancel(ctx), done, st); err != nil {
			return nil, run.stop(err)
		}
		run.r.emit(ctx, rebound.Event{Kind: rebound.StepCompleted, RunID: run.id, Step: base.Name, Status: string(StepCompleted)})
		return b, nil
	}

	class, _ := rebound.ClassifyContext(ctx, ferr)
	var ee *EscalateError
	switch {
	case errors.As(ferr, &ee):
		cause := ee.Err
		if cause == nil {
			cause = ferr
		}
		return nil, run.escalate(ctx, intent, ee.Reason, ee.Context, cause, attemptsOf(ferr, st), st)
	case ctx.Err() == nil && run.r.cfg.EscalateOn(class, ferr):
		return nil, run.escalate(ctx, intent, rebound.ReasonMaxRetriesExceeded, giveUpContext(ferr), ferr, attemptsOf(ferr, st), st)
	}
	failed := intent
	failed.Status, failed.Error, failed.Class, failed.FinishedAt = StepFailed, run.r.errText(ferr), class.String(), time.Now()
	if err := run.record(context.WithoutCancel(ctx), failed, st); err != nil {
		return nil, run.stop(errors.Join(fmt.Errorf("step %q: %w", base.Name, ferr), err))
	}
	return nil, run.stop(fmt.Errorf("step %q: %w", base.Name, ferr))
}

// attemptsOf returns how many attempts a failed step made.
func attemptsOf(err error, st *stepState) int {
	var g *rebound.GiveUpError
	if errors.As(err, &g) && g.Attempts > 0 {
		return g.Attempts
	}
	if st != nil {
		return CountAttempts(st.attempts, false)
	}
	return 1
}

// record journals a step's new state, with what it appended and its attempts, in one write.
func (run *Run) record(ctx context.Context, rec StepRecord, st *stepState) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	w := Write{Steps: []StepRecord{rec}}
	var added []rebound.Message
	if st != nil {
		w.Attempts = st.attempts
		// execute counted this execution's first attempt when it started.
		run.attemptCount += CountAttempts(st.attempts, rec.Status == StepCompleted) - 1
		if rec.Status == StepCompleted {
			added = st.messages
			for i, m := range added {
				mr, err := encodeMessage(int64(len(run.journal)+i), rec.Index, m)
				if err != nil {
					return fmt.Errorf("run %q step %q: encode message: %w", run.id, rec.Name, err)
				}
				w.Messages = append(w.Messages, mr)
			}
		}
	}
	if rec.Index < len(run.steps) {
		run.steps[rec.Index] = rec
	} else {
		run.steps = append(run.steps, rec)
		run.lastStep = rec.Name
	}
	up := run.summaryLocked()
	if rec.Status == StepEscalated {
		up.Status, up.EscalationID = StatusEscalated, rec.EscalationID
	}
	w.Run = &up
	if err := run.writeLocked(ctx, w); err != nil {
		return err
	}
	for _, m := range added {
		run.journal = append(run.journal, journalMsg{msg: m, step: rec.Index})
	}
	run.cursor = len(run.journal)
	return nil
}

// stepHook journals the attempt events emitted inside a step and forwards them to Config.Hook.
func (run *Run) stepHook(st *stepState) rebound.Hook {
	return func(ctx context.Context, e rebound.Event) {
		switch e.Kind {
		case rebound.AttemptFailed, rebound.RetryScheduled, rebound.FallbackUsed, rebound.BreakerChanged, rebound.GaveUp:
			a := AttemptRecord{Step: st.index, Time: e.Time, Kind: string(e.Kind), Attempt: e.Attempt,
				Delay: e.Delay, Model: e.Model, From: e.From, To: e.To, Reason: e.Reason}
			if e.Class != rebound.ClassUnknown || e.Err != nil {
				a.Class = e.Class.String()
			}
			if open := (*breaker.OpenError)(nil); errors.As(e.Err, &open) {
				// Refused by an open breaker: no call was made, and the class a refusal
				// classifies as (transient) says nothing of the model, nor of the give-up and
				// fallback that follow it.
				a.Class = ""
				if e.Kind == rebound.AttemptFailed {
					a.Kind, a.Reason = KindRefused, string(rebound.BreakerOpen)
				}
			}
			if e.Err != nil {
				a.Error = run.r.errText(e.Err)
			}
			run.mu.Lock()
			if run.cur == st {
				st.attempts = append(st.attempts, a)
			}
			run.mu.Unlock()
		}
		run.r.emit(ctx, e)
	}
}

// failedBeforeEffect reports whether a failure of the recorded class shows that the request was
// refused before it could take effect: the server said so (rate limited, overloaded, quota,
// auth, invalid, content policy, context overflow). A timeout, a transient failure (a cut
// connection, a 5xx), a malformed answer, a cancellation or an unknown error does not.
func failedBeforeEffect(class string) bool {
	c, err := rebound.ParseClass(class)
	if err != nil {
		return false
	}
	switch c {
	case rebound.ClassRateLimited, rebound.ClassOverloaded, rebound.ClassQuota, rebound.ClassAuth,
		rebound.ClassInvalid, rebound.ClassContentPolicy, rebound.ClassContextOverflow:
		return true
	}
	return false
}

func orUnknown(class string) string {
	if class == "" {
		return "unknown"
	}
	return class
}
