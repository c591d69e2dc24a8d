package escalatetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// testDecidedRuns: the store answers "which escalated runs have a decided escalation" in one
// query (checkpoint.DecidedLister), the question checkpoint.Worker polls with. An undecided
// run is not listed, a resolved and a dismissed one are, a resumed one no longer is.
func testDecidedRuns(t *testing.T, store DurableStore) {
	dl, ok := store.(checkpoint.DecidedLister)
	if !ok {
		t.Fatalf("%T keeps runs and items but is not a checkpoint.DecidedLister", store)
	}
	ctx := t.Context()
	queue := escalate.NewQueue(store, escalate.Config{})
	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue})
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			return "ok", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	base := "decided-" + randHex(4)
	ids := map[string]string{}
	for _, name := range []string{"waiting", "resolved", "dismissed"} {
		var ee *checkpoint.EscalatedError
		if err := runner.Run(ctx, base+"-"+name, wf); !errors.As(err, &ee) {
			t.Fatalf("run %s: %v, want escalated", name, err)
		}
		ids[name] = ee.EscalationID
	}
	mine := func() []string {
		t.Helper()
		runs, err := dl.ListDecidedRuns(ctx, checkpoint.RunFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range runs {
			if r.Status != checkpoint.StatusEscalated {
				t.Errorf("ListDecidedRuns returned run %s in status %s", r.ID, r.Status)
			}
			if len(r.ID) > len(base) && r.ID[:len(base)] == base {
				out = append(out, r.ID[len(base)+1:])
			}
		}
		slices.Sort(out)
		return out
	}
	if got := mine(); len(got) != 0 {
		t.Fatalf("before any decision: %v, want none", got)
	}
	if _, err := queue.Resolve(ctx, ids["resolved"], rebound.Decision{Action: rebound.ActionApprove, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Dismiss(ctx, ids["dismissed"], "bo", "not needed"); err != nil {
		t.Fatal(err)
	}
	if got := mine(); !slices.Equal(got, []string{"dismissed", "resolved"}) {
		t.Fatalf("after two decisions: %v, want [dismissed resolved]", got)
	}
	if err := runner.Run(ctx, base+"-resolved", wf); err != nil {
		t.Fatalf("resume the approved run: %v", err)
	}
	if got := mine(); !slices.Equal(got, []string{"dismissed"}) {
		t.Fatalf("after resuming the approved run: %v, want [dismissed]", got)
	}
	page, err := dl.ListDecidedRuns(ctx, checkpoint.RunFilter{Limit: 1, Offset: 1000000})
	if err != nil || len(page) != 0 {
		t.Fatalf("a page past the end = %v, %v; want none", page, err)
	}
}

// testHeldRuns: a run whose escalation a supervisor decided with a hold is not listed as
// decided, and does not resume, until the hold is over; a person's override during the hold
// lets it resume at once, with the person's decision.
func testHeldRuns(t *testing.T, store DurableStore) {
	dl := store.(checkpoint.DecidedLister)
	ctx := t.Context()
	queue := escalate.NewQueue(store, escalate.Config{})
	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue})
	published := 0
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			published++
			return "ok", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	listed := func(runID string) bool {
		t.Helper()
		runs, err := dl.ListDecidedRuns(ctx, checkpoint.RunFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.ID == runID {
				return true
			}
		}
		return false
	}
	base := "held-" + randHex(4)
	escalateRun := func(runID string) string {
		t.Helper()
		var ee *checkpoint.EscalatedError
		if err := runner.Run(ctx, runID, wf); !errors.As(err, &ee) {
			t.Fatalf("run %s: %v, want escalated", runID, err)
		}
		return ee.EscalationID
	}
	sup := rebound.Decision{Action: rebound.ActionApprove, By: "model-x policy:v3", Actor: rebound.ActorSupervisor,
		Rationale: "within policy", Confidence: 0.95, Hold: 400 * time.Millisecond}

	// Held, then over: the run resumes on the supervisor's decision.
	runA := base + "-a"
	idA := escalateRun(runA)
	if _, err := queue.Resolve(ctx, idA, sup); err != nil {
		t.Fatal(err)
	}
	if listed(runA) {
		t.Errorf("a run whose decision is on hold is listed as decided")
	}
	err := runner.Run(ctx, runA, wf)
	var he *checkpoint.HeldError
	if !errors.Is(err, checkpoint.ErrHeld) || !errors.Is(err, checkpoint.ErrEscalated) || !errors.As(err, &he) || he.Until.IsZero() {
		t.Fatalf("resume during the hold: %v, want a *checkpoint.HeldError (escalated)", err)
	}
	if info, _ := store.GetRun(ctx, runA); info.Status != checkpoint.StatusEscalated || info.EscalationID != idA || published != 0 {
		t.Fatalf("after a resume during the hold: run %s (escalation %s), published %d; want escalated on %s, 0",
			info.Status, info.EscalationID, published, idA)
	}
	time.Sleep(time.Until(he.Until) + 20*time.Millisecond)
	if !listed(runA) {
		t.Errorf("the hold is over but the run is not listed as decided")
	}
	if err := runner.Run(ctx, runA, wf); err != nil || published != 1 {
		t.Fatalf("resume after the hold: %v (published %d), want done, once", err, published)
	}
	var oe *escalate.OverrideError
	if _, err := queue.Override(ctx, idA, rebound.Decision{Action: rebound.ActionReject, By: "ana"}); !errors.As(err, &oe) ||
		oe.Why != escalate.RefusedActed {
		t.Errorf("override after the run acted: %v, want RefusedActed", err)
	}

	// Overridden during the hold: listed at once, resumes on the person's decision.
	runB := base + "-b"
	idB := escalateRun(runB)
	sup.Hold = time.Hour
	if _, err := queue.Resolve(ctx, idB, sup); err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Override(ctx, idB, rebound.Decision{Action: rebound.ActionReject, Note: "not today", By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if !listed(runB) {
		t.Errorf("an overridden decision (a person's) is not listed at once")
	}
	var rej *checkpoint.RejectedError
	if err := runner.Run(ctx, runB, wf); !errors.As(err, &rej) || rej.By != "ana" || published != 1 {
		t.Fatalf("resume after the override: %v (published %d), want rejected by ana", err, published)
	}
}
