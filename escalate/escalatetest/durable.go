package escalatetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// DurableStore is a database store that keeps both the run journal and the escalation queue.
type DurableStore interface {
	checkpoint.Store
	escalate.Store
}

// RunDurable checks a durable run end to end on one store: a step that gives up is escalated,
// the run waits, a reviewer (through a second Queue, as another process would) answers, and the
// run resumes with the answer as the step's result; a step that needs approval waits for it.
//
// The store lists the escalated runs whose escalation is decided in one query
// (checkpoint.DecidedLister, "DecidedRuns"), leaving out a supervisor's decision on hold until
// the hold is over ("HeldRuns"); at the end of a hold, of a person's override and the resume
// workers exactly one wins ("WorkerRacesOverride").
//
// Filing is fenced by the run's lease: an escalation carrying a lease the run is no longer held
// under is refused with the *checkpoint.StaleEpochError and nothing is filed.
func RunDurable(t *testing.T, store DurableStore) {
	defer t.Run("FilingFenced", func(t *testing.T) { testFencedFiling(t, store) })
	defer t.Run("DecidedRuns", func(t *testing.T) { testDecidedRuns(t, store) })
	defer t.Run("HeldRuns", func(t *testing.T) { testHeldRuns(t, store) })
	defer t.Run("WorkerRacesOverride", func(t *testing.T) { WorkerRacesOverride(t, store, store, 10) })
	ctx := t.Context()
	queue := escalate.NewQueue(store, escalate.Config{})
	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue})
	runID := "durable-" + randHex(4)
	calls, published := 0, 0
	var section string
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("Research topic: tides")); err != nil {
			return err
		}
		var err error
		section, err = checkpoint.Step(ctx, run, "section_1", func(ctx context.Context) (string, error) {
			calls++
			return "", &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5,
				Last: &rebound.Error{Class: rebound.ClassOverloaded, Status: 529}}
		})
		if err != nil {
			return err
		}
		_, err = checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			published++
			return "ok", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	var ee *checkpoint.EscalatedError
	if err := runner.Run(ctx, runID, wf); !errors.As(err, &ee) {
		t.Fatalf("first run: %v, want escalated", err)
	}
	reviewer := escalate.NewQueue(store, escalate.Config{}) // another process
	it, err := reviewer.Get(ctx, ee.EscalationID)
	if err != nil {
		t.Fatal(err)
	}
	if it.RunID != runID || it.Step != "section_1" || it.Reason != rebound.ReasonMaxRetriesExceeded ||
		it.Class != rebound.ClassOverloaded || it.Attempts != 5 || len(it.Messages) != 1 {
		t.Errorf("item %+v", it)
	}
	rec, err := store.GetRun(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != checkpoint.StatusEscalated || rec.EscalationID != it.ID {
		t.Errorf("run is %s waiting on %q, want escalated on %s", rec.Status, rec.EscalationID, it.ID)
	}
	if _, err := reviewer.Claim(ctx, it.ID, "ana", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := reviewer.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionRespond,
		Answer: "Tides follow the Moon.", By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx, runID, wf); !errors.As(err, &ee) || ee.Reason != rebound.ReasonIrreversibleAction {
		t.Fatalf("resumed run: %v, want waiting for approval", err)
	}
	if section != "Tides follow the Moon." || calls != 1 || published != 0 {
		t.Errorf("section %q after %d calls, %d publications", section, calls, published)
	}
	if _, err := reviewer.Resolve(ctx, ee.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "bo"}); err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx, runID, wf); err != nil {
		t.Fatalf("approved run: %v", err)
	}
	if published != 1 {
		t.Errorf("published %d times", published)
	}
	if rec, _ := store.GetRun(ctx, runID); rec == nil || rec.Status != checkpoint.StatusCompleted {
		t.Errorf("run is not completed: %+v", rec)
	}
	s, err := reviewer.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Open != 0 {
		t.Errorf("%d items still waiting", s.Open)
	}
}

func testFencedFiling(t *testing.T, store DurableStore) {
	ctx := t.Context()
	if _, ok := store.(escalate.FencedStore); !ok {
		t.Fatalf("%T keeps runs and items but is not an escalate.FencedStore", store)
	}
	queue := escalate.NewQueue(store, escalate.Config{})
	runID := "fenced-" + randHex(4)
	old, err := store.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: runID, Owner: "host-a/1", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RenewRun(ctx, old.Lease, -time.Second); err != nil { // expire it
		t.Fatal(err)
	}
	cur, err := store.ClaimRun(ctx, checkpoint.ClaimRequest{RunID: runID, Owner: "host-b/2", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := rebound.Escalation{RunID: runID, Step: "pay", Reason: rebound.ReasonIrreversibleAction,
		LeaseOwner: old.Lease.Owner, LeaseEpoch: old.Lease.Epoch}
	if _, err := queue.Escalate(ctx, e); !errors.Is(err, checkpoint.ErrStaleEpoch) {
		t.Fatalf("filing under a lease taken over: got %v, want ErrStaleEpoch", err)
	}
	if items, err := queue.List(ctx, escalate.Filter{RunID: runID}); err != nil || len(items) != 0 {
		t.Fatalf("after a refused filing: %d items (%v), want none", len(items), err)
	}
	e.LeaseOwner, e.LeaseEpoch = cur.Lease.Owner, cur.Lease.Epoch
	if _, err := queue.Escalate(ctx, e); err != nil {
		t.Fatalf("filing under the current lease: %v", err)
	}
	// A run this database does not keep (its journal lives elsewhere) is not checked.
	e.RunID = "elsewhere-" + randHex(4)
	if _, err := queue.Escalate(ctx, e); err != nil {
		t.Fatalf("filing for a run kept elsewhere: %v", err)
	}
}
