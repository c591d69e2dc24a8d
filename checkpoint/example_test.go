package checkpoint_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// A run fails at step 3; run again under the same ID, it skips steps 1 and 2 (their recorded
// results come back without running) and finishes.
func Example() {
	ctx := context.Background()
	runner := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{})

	broken := true
	workflow := func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("Research topic: tides")); err != nil {
			return err
		}
		for i, name := range []string{"outline", "section_1", "section_2"} {
			_, err := checkpoint.Step(ctx, run, name, func(ctx context.Context) (string, error) {
				fmt.Println("running", name)
				if i == 2 && broken {
					return "", errors.New("provider down")
				}
				text := name + " text"
				return text, run.Append(ctx, rebound.Assistant(text))
			})
			if err != nil {
				return err
			}
		}
		fmt.Println("history:", len(run.Messages()), "messages")
		return nil
	}

	err := runner.Run(ctx, "report-001", workflow)
	fmt.Println("first run:", err)

	broken = false
	err = runner.Run(ctx, "report-001", workflow)
	fmt.Println("resumed:", err)
	// Output:
	// running outline
	// running section_1
	// running section_2
	// first run: step "section_2": provider down
	// running section_2
	// history: 4 messages
	// resumed: <nil>
}
