package escalatetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// WorkerRacesOverride checks, over rounds runs, the end of a supervisor's hold: two resume
// workers (two runners with owners of their own, as two processes) poll for decided runs while
// a person overrides the supervisor's approval around the moment its hold ends. Exactly one of
// the two wins each time, consistently: either the override is accepted and the run fails on
// the person's rejection without the step running, or the override is refused and the run
// completes on the supervisor's approval, the step running once. In both cases the run acted
// on the decision the store keeps. runs keeps the journal, items the queue (one store for
// both, or two).
func WorkerRacesOverride(t *testing.T, runs checkpoint.Store, items escalate.Store, rounds int) {
	t.Helper()
	ctx := t.Context()
	queue := escalate.NewQueue(items, escalate.Config{})
	var mu sync.Mutex
	published := map[string]int{}
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "refund", func(ctx context.Context) (string, error) {
			mu.Lock()
			published[run.ID()]++
			mu.Unlock()
			return "refunded", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	workflows := map[string]checkpoint.Workflow{"refund": wf}
	var workers []*checkpoint.Worker
	var runner *checkpoint.Runner
	for i := range 2 {
		r := checkpoint.NewRunner(runs, checkpoint.Config{Escalations: queue, Owner: fmt.Sprintf("race-worker-%d/%s", i, randHex(3))})
		if runner == nil {
			runner = r
		}
		w, err := checkpoint.NewWorker(r, checkpoint.WorkerConfig{Workflows: workflows, Interval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}
	hold := 60 * time.Millisecond
	wins := map[string]int{}
	base := "race-" + randHex(4)
	for i := range rounds {
		runID := fmt.Sprintf("%s-%d", base, i)
		var ee *checkpoint.EscalatedError
		if err := runner.Run(ctx, runID, wf, checkpoint.WithWorkflow("refund", nil)); !errors.As(err, &ee) {
			t.Fatalf("round %d: %v, want escalated", i, err)
		}
		sup := rebound.Decision{Action: rebound.ActionApprove, By: "model-x policy:v3", Actor: rebound.ActorSupervisor,
			Rationale: "under the refund limit", Confidence: 0.9, Hold: hold}
		res, err := queue.Resolve(ctx, ee.EscalationID, sup)
		if err != nil {
			t.Fatal(err)
		}
		expiry := res.DecidedAt.Add(hold)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for rctx.Err() == nil {
					if _, err := w.Poll(rctx); err != nil && rctx.Err() == nil {
						t.Errorf("round %d: poll: %v", i, err)
						return
					}
					if info, err := runs.GetRun(rctx, runID); err == nil && info.Status != checkpoint.StatusEscalated &&
						info.Status != checkpoint.StatusRunning {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		var overErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(expiry) + time.Duration(i%7-3)*time.Millisecond)
			_, overErr = queue.Override(rctx, ee.EscalationID, rebound.Decision{Action: rebound.ActionReject,
				Note: "stop", By: "ana"})
		}()
		wg.Wait()
		cancel()
		info, err := runs.GetRun(ctx, runID)
		if err != nil {
			t.Fatal(err)
		}
		final, err := queue.Get(ctx, ee.EscalationID)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := published[runID]
		mu.Unlock()
		var oe *escalate.OverrideError
		switch {
		case overErr == nil:
			wins["override"]++
			if info.Status != checkpoint.StatusFailed || n != 0 || final.Decision.By != "ana" || final.Decision.Action != rebound.ActionReject {
				t.Errorf("round %d: the override won, but the run is %s with the step run %d times, and the store keeps %+v",
					i, info.Status, n, final.Decision)
			}
		case errors.As(overErr, &oe):
			wins["run"]++
			if info.Status != checkpoint.StatusCompleted || n != 1 || *final.Decision != sup || final.ActedAt.IsZero() {
				t.Errorf("round %d: the override was refused (%v), but the run is %s with the step run %d times, and the store keeps %+v (acted %v)",
					i, overErr, info.Status, n, final.Decision, final.ActedAt)
			}
		default:
			t.Fatalf("round %d: override: %v", i, overErr)
		}
	}
	t.Logf("of %d races between a person's override and two resume workers at the end of the hold: %v", rounds, wins)
}
