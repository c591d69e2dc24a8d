package escalate_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// A rejection reopened (a decision made in error) puts the run back to waiting: the irreversible
// step in doubt is not re-run blindly while its item is open again, and the new decision is the
// one the step receives.
func TestReopenedRejectionWaitsAgain(t *testing.T) {
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
	if err := h.runner.Run(ctx, "order-9", wf); err == nil {
		t.Fatal("first run: want the failed write")
	}
	wantEscalated(t, h.runner.Run(ctx, "order-9", wf))
	it := h.only(t, "order-9")
	h.resolve(t, it.ID, rebound.Decision{Action: rebound.ActionReject, Note: "looks wrong", By: "ana"})
	if err := h.runner.Run(ctx, "order-9", wf); !errors.Is(err, checkpoint.ErrRejected) {
		t.Fatalf("rejected run: %v, want a rejection", err)
	}
	if _, err := h.queue.Reopen(ctx, it.ID, "bob", "rejected by mistake"); err != nil {
		t.Fatal(err)
	}
	ee := wantEscalated(t, h.runner.Run(ctx, "order-9", wf))
	if ee.EscalationID != it.ID || charges != 1 {
		t.Fatalf("reopened: escalation %s, %d charges; want %s and 1 (not re-run blindly)", ee.EscalationID, charges, it.ID)
	}
	rec, err := h.store.GetRun(ctx, "order-9")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != checkpoint.StatusEscalated || rec.EscalationID != it.ID {
		t.Errorf("run %s on %q, want escalated on %s", rec.Status, rec.EscalationID, it.ID)
	}
	h.resolve(t, it.ID, rebound.Decision{Action: rebound.ActionRespond, Answer: "ch_9", By: "bob",
		Note: "the provider shows the charge"})
	if err := h.runner.Run(ctx, "order-9", wf); err != nil {
		t.Fatalf("answered run: %v", err)
	}
	if b, _ := json.Marshal(result); charges != 1 || string(b) != `"ch_9"` {
		t.Errorf("%d charges, result %s; want 1 and the answer", charges, b)
	}
}
