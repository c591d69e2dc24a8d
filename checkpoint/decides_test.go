package checkpoint_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
)

// A step that DecidesItself receives every decision, reject and edit included, and its result
// is the step's: a rejection does not fail the run.
func TestDecidesItself(t *testing.T) {
	for _, action := range []rebound.Action{rebound.ActionApprove, rebound.ActionReject, rebound.ActionRespond, rebound.ActionEdit} {
		t.Run(string(action), func(t *testing.T) {
			esc := &checkpointtest.Escalator{}
			r := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: esc})
			runs := 0
			var got string
			wf := func(ctx context.Context, run *checkpoint.Run) error {
				v, err := checkpoint.Step(ctx, run, "ask", func(ctx context.Context) (string, error) {
					runs++
					d, ok := checkpoint.DecisionOf(ctx)
					if !ok {
						return "", checkpoint.Escalate(rebound.ReasonIrreversibleAction, "may I?", nil)
					}
					return string(d.Action) + ":" + d.Answer, nil
				}, checkpoint.DecidesItself())
				got = v
				return err
			}
			err := r.Run(context.Background(), "r", wf)
			var ee *checkpoint.EscalatedError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want an escalation", err)
			}
			if err := r.Run(context.Background(), "r", wf); !errors.As(err, &ee) || runs != 1 {
				t.Fatalf("undecided: got %v after %d runs", err, runs)
			}
			esc.Decide(ee.EscalationID, rebound.Decision{Action: action, Answer: "{}", By: "ana"})
			if err := r.Run(context.Background(), "r", wf); err != nil {
				t.Fatal(err)
			}
			if want := string(action) + ":{}"; got != want || runs != 2 {
				t.Fatalf("result %q after %d runs, want %q after 2", got, runs, want)
			}
			if err := r.Run(context.Background(), "r", wf); err != nil || runs != 2 || got != string(action)+":{}" {
				t.Fatalf("replay: %v, %d runs, %q", err, runs, got)
			}
		})
	}
}
