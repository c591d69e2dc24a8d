package agent_test

import (
	"context"
	"fmt"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/llm/llmtest"
)

type Refund struct {
	OrderID     string `json:"order_id"`
	AmountCents int    `json:"amount_cents"`
}

func Example() {
	// A model that calls issue_refund, then answers (a real one is llm.Resilient over an adapter).
	model := &llmtest.Scripted{Script: []*llm_Response{
		use("The order arrived broken: refunding it.", tc("call_1", "issue_refund", `{"order_id":"1042","amount_cents":7999}`)),
		answer("I have refunded 79.99."),
	}}
	refunds := 0
	refund := agent.Tool{
		Name: "issue_refund", Description: "Refund an order.",
		Effect:   agent.Irreversible,
		Approval: agent.When("amount_cents > 5000", func(in Refund) bool { return in.AmountCents > 5000 }),
		Handler: agent.Handle(func(ctx context.Context, call agent.Call, in Refund) (string, error) {
			refunds++ // payments.Refund(ctx, in.OrderID, in.AmountCents, call.Key)
			return fmt.Sprintf("refunded %d cents on order %s", in.AmountCents, in.OrderID), nil
		}),
	}
	a, err := agent.New(agent.Config{Model: model, Tools: []agent.Tool{refund}})
	if err != nil {
		panic(err)
	}

	queue := &checkpointtest.Escalator{} // escalate.Queue in production
	runner := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: queue})
	support := func(ctx context.Context, run *checkpoint.Run) error {
		res, err := a.Run(ctx, run, rebound.User("Order 1042 arrived broken. I want my money back."))
		if err == nil {
			fmt.Println("answer:", res.Text)
		}
		return err
	}

	err = runner.Run(context.Background(), "ticket-1042", support)
	fmt.Println(err)

	ids, _ := queue.Items()
	queue.Decide(ids[0], rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	if err := runner.Run(context.Background(), "ticket-1042", support); err != nil {
		panic(err)
	}
	fmt.Println("refunds:", refunds)
	// Output:
	// run "ticket-1042" escalated at step "approve:call_1" (irreversible_action, escalation esc-1): escalate (irreversible_action)
	// answer: I have refunded 79.99.
	// refunds: 1
}
