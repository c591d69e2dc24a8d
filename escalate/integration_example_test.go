package escalate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/retry"
)

// A run whose step exhausts its retries is escalated; a reviewer answers in the step's place,
// and the run, resumed, completes with that answer.
func Example_durableRun() {
	ctx := context.Background()
	queue := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	runner := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: queue})

	// The provider is overloaded for the whole first run. (Rand 0: full jitter waits nothing,
	// so that the example runs at once.)
	policy := retry.Policy{MaxAttempts: 3, Rand: func() float64 { return 0 }}
	overloaded := &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Provider: "anthropic",
		Type: "overloaded_error", Message: "Overloaded"}
	var section string
	workflow := func(ctx context.Context, run *checkpoint.Run) error {
		outline, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) {
			return "1. Causes 2. Cycles", nil
		})
		if err != nil {
			return err
		}
		section, err = checkpoint.Step(ctx, run, "section_1", func(ctx context.Context) (string, error) {
			return retry.Do(ctx, policy, func(ctx context.Context) (string, error) {
				return "", overloaded // a real call would write section 1 of outline here
			})
		})
		_ = outline
		return err
	}

	err := runner.Run(ctx, "report-001", workflow)
	fmt.Println("escalated:", errors.Is(err, checkpoint.ErrEscalated))

	open, _ := queue.List(ctx, escalate.Filter{Status: []escalate.Status{escalate.StatusOpen}})
	it := open[0]
	fmt.Println(it.RunID, it.Step, it.Reason, it.Class, it.Attempts)
	fmt.Println(it.Error)

	// Still waiting: a resume comes back escalated.
	err = runner.Run(ctx, "report-001", workflow)
	fmt.Println("before the decision:", errors.Is(err, checkpoint.ErrEscalated))

	if _, err := queue.Claim(ctx, it.ID, "ana", 10*time.Minute); err != nil {
		fmt.Println(err)
	}
	if _, err := queue.Resolve(ctx, it.ID, rebound.Decision{Action: rebound.ActionRespond,
		Answer: "Tides are caused mainly by the Moon's gravity.", By: "ana"}); err != nil {
		fmt.Println(err)
	}

	err = runner.Run(ctx, "report-001", workflow)
	fmt.Println("resumed:", err)
	fmt.Println("section_1:", section)
	// Output:
	// escalated: true
	// report-001 section_1 max_retries_exceeded overloaded 3
	// gave up after 3 attempts (exhausted): overloaded from anthropic: status 529 overloaded_error: Overloaded
	// before the decision: true
	// resumed: <nil>
	// section_1: Tides are caused mainly by the Moon's gravity.
}
