package escalatetest

import (
	"context"
	"errors"
	"slices"
	"testing"

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
