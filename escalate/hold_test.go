package escalate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/escalate/escalatetest"
)

// On stores that do not list decided runs in one query (the memory stores), the worker asks
// the Escalator run by run: a held decision is not due until its hold is over.
func TestWorkerWaitsForTheHoldOnMemoryStores(t *testing.T) {
	h := newHarness(t, nil, escalate.Config{})
	ran := 0
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "publish", func(context.Context) (string, error) {
			ran++
			return "ok", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	var ee *checkpoint.EscalatedError
	if err := h.runner.Run(t.Context(), "r1", wf, checkpoint.WithWorkflow("wf", nil)); !errors.As(err, &ee) {
		t.Fatal(err)
	}
	res, err := h.queue.Resolve(t.Context(), ee.EscalationID, rebound.Decision{Action: rebound.ActionApprove,
		By: "model-x policy:v3", Actor: rebound.ActorSupervisor, Confidence: 0.9, Hold: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w, err := checkpoint.NewWorker(h.runner, checkpoint.WorkerConfig{Workflows: map[string]checkpoint.Workflow{"wf": wf}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Poll(t.Context()); err != nil || n != 0 || ran != 0 {
		t.Fatalf("poll during the hold: %d resumed, %v, step ran %d; want none", n, err, ran)
	}
	if info, _ := h.store.GetRun(t.Context(), "r1"); info.Status != checkpoint.StatusEscalated {
		t.Fatalf("run is %s during the hold", info.Status)
	}
	time.Sleep(time.Until(res.HoldUntil()) + 10*time.Millisecond)
	if n, err := w.Poll(t.Context()); err != nil || n != 1 || ran != 1 {
		t.Fatalf("poll after the hold: %d resumed, %v, step ran %d; want 1, once", n, err, ran)
	}
}

func TestWorkerRacesOverrideOnMemoryStores(t *testing.T) {
	escalatetest.WorkerRacesOverride(t, checkpoint.NewMemoryStore(), escalate.NewMemoryStore(), 10)
}

// A supervisor's decision through ResolveClaimed is kept whole in the trail, like Resolve's.
func TestResolveClaimedKeepsTheWholeDecision(t *testing.T) {
	ctx := t.Context()
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	id, _ := q.Escalate(ctx, rebound.Escalation{RunID: "r", Step: "s", Reason: rebound.ReasonRequiresHuman})
	if _, err := q.Claim(ctx, id, "sup @1", time.Minute); err != nil {
		t.Fatal(err)
	}
	d := rebound.Decision{Action: rebound.ActionRespond, Answer: "42", By: "model-x policy:v3", Actor: rebound.ActorSupervisor,
		Rationale: "known answer", Confidence: 0.93, Hold: time.Minute}
	if _, err := q.ResolveClaimed(ctx, id, "sup @1", d); err != nil {
		t.Fatal(err)
	}
	audit, _ := q.Audit(ctx, id)
	last := audit[len(audit)-1]
	want := d
	want.Note = d.Rationale // a decision without a note shows its rationale as the note
	if last.Event != escalate.AuditResolved || last.Decision() != want {
		t.Fatalf("trail entry %+v, want the whole decision %+v", last, want)
	}
}
