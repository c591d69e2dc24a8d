package escalate_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/retry"
)

// A Queue is what a checkpoint.Runner escalates through.
var _ checkpoint.Escalator = (*escalate.Queue)(nil)

// The ways into the queue from a durable run, and what each decision does on resume. The
// runs use the in-memory stores; store/sqlite and store/postgres run a durable run end to end
// on one database.

type harness struct {
	store  checkpoint.Store
	queue  *escalate.Queue
	runner *checkpoint.Runner
}

func newHarness(t *testing.T, store checkpoint.Store, cfg escalate.Config) harness {
	t.Helper()
	if store == nil {
		store = checkpoint.NewMemoryStore()
	}
	q := escalate.NewQueue(escalate.NewMemoryStore(), cfg)
	return harness{store: store, queue: q, runner: checkpoint.NewRunner(store, checkpoint.Config{Escalations: q})}
}

// only returns the one waiting item of a run.
func (h harness) only(t *testing.T, runID string) escalate.Item {
	t.Helper()
	items, err := h.queue.List(t.Context(), escalate.Filter{RunID: runID,
		Status: []escalate.Status{escalate.StatusOpen, escalate.StatusClaimed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("run %s has %d waiting items, want 1", runID, len(items))
	}
	return items[0]
}

func (h harness) resolve(t *testing.T, id string, d rebound.Decision) {
	t.Helper()
	if _, err := h.queue.Claim(t.Context(), id, d.By, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := h.queue.Resolve(t.Context(), id, d); err != nil {
		t.Fatal(err)
	}
}

func wantEscalated(t *testing.T, err error) *checkpoint.EscalatedError {
	t.Helper()
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) {
		t.Fatalf("run returned %v, want a *checkpoint.EscalatedError", err)
	}
	return ee
}

// failResultOnce is a checkpoint store whose write of the named step's result fails once: the
// process "crashed" after the step's effect and before its result was recorded.
type failResultOnce struct {
	checkpoint.Store
	step   string
	failed bool
}

func (s *failResultOnce) WriteRun(ctx context.Context, l checkpoint.Lease, w checkpoint.Write) error {
	for _, st := range w.Steps {
		if st.Name == s.step && st.Status == checkpoint.StepCompleted && !s.failed {
			s.failed = true
			return errors.New("disk gone")
		}
	}
	return s.Store.WriteRun(ctx, l, w)
}

func TestAmbiguousState(t *testing.T) {
	for _, c := range []struct {
		name     string
		decision rebound.Decision
		charges  int
		result   string
	}{
		{"approve runs the step again", rebound.Decision{Action: rebound.ActionApprove, By: "ana"}, 2, `"charged:42"`},
		{"respond says it happened", rebound.Decision{Action: rebound.ActionRespond, Answer: "ch_123", By: "ana",
			Note: "the payment provider shows the charge"}, 1, `"ch_123"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			h := newHarness(t, &failResultOnce{Store: checkpoint.NewMemoryStore(), step: "charge"}, escalate.Config{})
			charges := 0
			var result string
			wf := func(ctx context.Context, run *checkpoint.Run) error {
				var err error
				result, err = checkpoint.Step(ctx, run, "charge", func(ctx context.Context) (string, error) {
					charges++
					return "charged:42", nil
				}, checkpoint.Irreversible())
				return err
			}
			if err := h.runner.Run(ctx, "order-7", wf); err == nil || !strings.Contains(err.Error(), "disk gone") {
				t.Fatalf("first run: %v, want the failed write", err)
			}
			ee := wantEscalated(t, h.runner.Run(ctx, "order-7", wf))
			if charges != 1 {
				t.Fatalf("an in-doubt irreversible step ran again blindly (%d charges)", charges)
			}
			it := h.only(t, "order-7")
			if it.ID != ee.EscalationID || it.Reason != rebound.ReasonAmbiguousState || it.Step != "charge" {
				t.Errorf("item %s %s %s, want %s ambiguous_state charge", it.ID, it.Reason, it.Step, ee.EscalationID)
			}
			var st map[string]any
			if err := json.Unmarshal(it.State, &st); err != nil || st["idempotency_key"] == "" || st["step"] != "charge" {
				t.Errorf("state %s lacks the step and its idempotency key", it.State)
			}
			h.resolve(t, it.ID, c.decision)
			if err := h.runner.Run(ctx, "order-7", wf); err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			b, _ := json.Marshal(result)
			if charges != c.charges || string(b) != c.result {
				t.Errorf("%d charges, result %s; want %d, %s", charges, b, c.charges, c.result)
			}
		})
	}
}

func TestIrreversibleApproval(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, nil, escalate.Config{})
	published := 0
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			published++
			return "https://example.com/report-001", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	wantEscalated(t, h.runner.Run(ctx, "report-001", wf))
	if published != 0 {
		t.Fatal("a step that needs approval ran before it")
	}
	it := h.only(t, "report-001")
	if it.Reason != rebound.ReasonIrreversibleAction {
		t.Errorf("reason %s, want irreversible_action", it.Reason)
	}
	if _, err := h.queue.Claim(ctx, it.ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := h.queue.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"}); !errors.Is(err, escalate.ErrConflict) {
		t.Fatalf("approval by a reviewer who does not hold the item: %v, want a conflict", err)
	}
	wantEscalated(t, h.runner.Run(ctx, "report-001", wf))
	if _, err := h.queue.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionApprove, Note: "checked the draft", By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if err := h.runner.Run(ctx, "report-001", wf); err != nil {
		t.Fatalf("approved run: %v", err)
	}
	if err := h.runner.Run(ctx, "report-001", wf); err != nil {
		t.Fatalf("completed run, run again: %v", err)
	}
	if published != 1 {
		t.Errorf("published %d times, want once", published)
	}
}

type refund struct {
	Amount int    `json:"amount"`
	Reason string `json:"reason"`
}

func TestStepOwnReason(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, nil, escalate.Config{})
	ran := 0
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("Customer asks for a refund of order 7")); err != nil {
			return err
		}
		r, err := checkpoint.Step(ctx, run, "decide_refund", func(ctx context.Context) (refund, error) {
			ran++
			return refund{}, checkpoint.Escalate(rebound.ReasonLowConfidence, "model confidence 0.41 < 0.70",
				&rebound.Error{Class: rebound.ClassMalformed, Message: "answer failed validation"})
		})
		if err != nil {
			return err
		}
		if r.Amount != 120 {
			t.Errorf("refund %+v, want the reviewer's", r)
		}
		_, err = checkpoint.Step(ctx, run, "check_limit", func(ctx context.Context) (string, error) {
			return "", checkpoint.Escalate("refund_over_limit", "120 EUR is over the agent's 100 EUR limit", nil)
		})
		return err
	}
	wantEscalated(t, h.runner.Run(ctx, "refund-7", wf))
	it := h.only(t, "refund-7")
	if it.Reason != rebound.ReasonLowConfidence || it.Context != "model confidence 0.41 < 0.70" ||
		it.Class != rebound.ClassMalformed || !strings.Contains(it.Error, "failed validation") {
		t.Errorf("item %+v", it)
	}
	if len(it.Messages) != 1 || it.Messages[0].Content != "Customer asks for a refund of order 7" {
		t.Errorf("item messages %+v, want the run's history", it.Messages)
	}
	h.resolve(t, it.ID, rebound.Decision{Action: rebound.ActionRespond, Answer: `{"amount":120,"reason":"damaged"}`, By: "ana"})

	wantEscalated(t, h.runner.Run(ctx, "refund-7", wf))
	it2 := h.only(t, "refund-7")
	if it2.Reason != "refund_over_limit" || it2.Step != "check_limit" {
		t.Errorf("second item %s %s, want refund_over_limit at check_limit", it2.Reason, it2.Step)
	}
	h.resolve(t, it2.ID, rebound.Decision{Action: rebound.ActionRespond, Answer: "approved by finance", By: "fin"})
	if err := h.runner.Run(ctx, "refund-7", wf); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if ran != 1 {
		t.Errorf("the answered step ran %d times, want once", ran)
	}
}

func TestRejectAndDismissFailTheRun(t *testing.T) {
	for _, dismiss := range []bool{false, true} {
		ctx := t.Context()
		h := newHarness(t, nil, escalate.Config{})
		wf := func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "send_email", func(ctx context.Context) (string, error) {
				return "sent", nil
			}, checkpoint.NeedsApproval())
			return err
		}
		wantEscalated(t, h.runner.Run(ctx, "mail-1", wf))
		it := h.only(t, "mail-1")
		if dismiss {
			if _, err := h.queue.Dismiss(ctx, it.ID, "ana", "wrong customer"); err != nil {
				t.Fatal(err)
			}
		} else {
			h.resolve(t, it.ID, rebound.Decision{Action: rebound.ActionReject, Note: "wrong customer", By: "ana"})
		}
		err := h.runner.Run(ctx, "mail-1", wf)
		var rej *checkpoint.RejectedError
		if !errors.Is(err, checkpoint.ErrRejected) || !errors.As(err, &rej) || rej.Note != "wrong customer" || rej.By != "ana" {
			t.Fatalf("dismiss %v: run returned %v, want a rejection with the note", dismiss, err)
		}
		rec, err := h.store.GetRun(ctx, "mail-1")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != checkpoint.StatusFailed || !strings.Contains(rec.Error, "wrong customer") {
			t.Errorf("dismiss %v: run %s (%q), want failed with the note", dismiss, rec.Status, rec.Error)
		}
	}
}

func TestRetryRunsTheStepAgain(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, nil, escalate.Config{})
	policy := retry.Policy{MaxAttempts: 3, Rand: func() float64 { return 0 }}
	calls, healthyAfter := 0, 5 // the provider recovers at the 5th call: the first run's 3 are not enough
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) {
			return retry.Do(ctx, policy, func(ctx context.Context) (string, error) {
				calls++
				if calls < healthyAfter {
					return "", &rebound.Error{Class: rebound.ClassTransient, Status: 503}
				}
				return "outline", nil
			})
		})
		return err
	}
	wantEscalated(t, h.runner.Run(ctx, "r", wf))
	it := h.only(t, "r")
	if it.Reason != rebound.ReasonMaxRetriesExceeded || it.Attempts != 3 || it.Class != rebound.ClassTransient {
		t.Errorf("item %s attempts %d class %s", it.Reason, it.Attempts, it.Class)
	}
	h.resolve(t, it.ID, rebound.Decision{Action: rebound.ActionRetry, Note: "provider is back", By: "ana"})
	if err := h.runner.Run(ctx, "r", wf); err != nil {
		t.Fatalf("retried run: %v (a fresh retry budget needs 2 more attempts)", err)
	}
	if calls != 5 {
		t.Errorf("%d calls, want 5", calls)
	}
}

func TestRunEscalationRedactedAndNotified(t *testing.T) {
	ctx := t.Context()
	var notified []escalate.Item
	h := newHarness(t, nil, escalate.Config{
		RedactFields:  []string{"customer_email"},
		ReasonByClass: map[rebound.Class]rebound.EscalationReason{rebound.ClassAuth: rebound.ReasonRequiresHuman},
		Notifier: escalate.NotifierFunc(func(_ context.Context, it escalate.Item) error {
			notified = append(notified, it)
			return nil
		}),
	})
	const key = "sk-ant-api03-Zx81bQ0c2d3e4f5g6h7i8j9k0l"
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User(`{"customer_email": "ana@example.com", "note": "key `+key+`"}`)); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "call", func(ctx context.Context) (string, error) {
			return retry.Do(ctx, retry.Policy{}, func(ctx context.Context) (string, error) {
				return "", &rebound.Error{Class: rebound.ClassAuth, Status: 401, Message: "invalid x-api-key: " + key}
			})
		})
		return err
	}
	wantEscalated(t, h.runner.Run(ctx, "r", wf))
	it := h.only(t, "r")
	b, _ := json.Marshal(it)
	if strings.Contains(string(b), key) || strings.Contains(string(b), "ana@example.com") {
		t.Errorf("secrets reached the queue: %s", b)
	}
	if it.Reason != rebound.ReasonRequiresHuman || it.Class != rebound.ClassAuth {
		t.Errorf("an auth give-up filed as %s (%s), want requires_human", it.Reason, it.Class)
	}
	if len(notified) != 1 || notified[0].ID != it.ID {
		t.Errorf("notified of %d items", len(notified))
	}
}
