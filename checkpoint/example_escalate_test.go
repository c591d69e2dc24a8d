package checkpoint_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
)

// An irreversible step that needs approval escalates before it runs; the run waits until a
// reviewer approves, then the step runs, once.
func ExampleNeedsApproval() {
	ctx := context.Background()
	queue := &checkpointtest.Escalator{} // package escalate's Queue in production
	runner := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: queue})

	workflow := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			fmt.Println("publishing")
			return "https://example.com/report", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}

	err := runner.Run(ctx, "report-002", workflow)
	var esc *checkpoint.EscalatedError
	if errors.As(err, &esc) {
		fmt.Println("waiting:", esc.Step, esc.Reason)
	}
	fmt.Println("still waiting:", errors.Is(runner.Run(ctx, "report-002", workflow), checkpoint.ErrEscalated))

	queue.Decide(esc.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	fmt.Println("approved:", runner.Run(ctx, "report-002", workflow))
	fmt.Println("again:", runner.Run(ctx, "report-002", workflow))
	// Output:
	// waiting: publish irreversible_action
	// still waiting: true
	// publishing
	// approved: <nil>
	// again: <nil>
}
