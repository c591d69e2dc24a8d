package agent_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
)

// readmeAgent are the README's lines of the tool-agent example; TestREADMEAgent runs them.
var readmeAgent = []string{
	`refund := agent.Tool{`,
	`	Effect:   agent.Irreversible, // never re-run blindly after a crash or a timeout`,
	`	Approval: agent.When("amount_cents > 5000", func(in Refund) bool { return in.AmountCents > 5000 }),`,
	`	Handler: agent.Handle(func(ctx context.Context, call agent.Call, in Refund) (string, error) {`,
	`		return payments.Refund(ctx, in.OrderID, in.AmountCents, call.Key) // call.Key: idempotency key`,
	`support, err := agent.New(agent.Config{Model: model, Tools: []agent.Tool{lookup, refund}})`,
	`	res, err := support.Run(ctx, run, rebound.User("Order 1042 arrived broken. I want my money back."))`,
}

type paymentsFake struct{ keys []string }

func (p *paymentsFake) Refund(_ context.Context, order string, cents int, key string) (string, error) {
	p.keys = append(p.keys, key)
	return fmt.Sprintf("refunded %d on %s", cents, order), nil
}

// TestREADMEAgent runs the README's agent through the Anthropic SDK against fakellm: the refund
// of 79.99 waits for approval, and runs once approved.
func TestREADMEAgent(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range readmeAgent {
		if !strings.Contains(string(readme), l) {
			t.Errorf("README.md lacks the line %q", l)
		}
	}
	srv := fakellm.NewServer(t, "tool-use name=issue_refund input='{\"order_id\":\"1042\",\"amount_cents\":7999}' times=1\nok result=issue_refund")
	client := anthropic.NewClient(aoption.WithBaseURL(srv.AnthropicBaseURL), aoption.WithAPIKey("test"), aoption.WithMaxRetries(0))
	var model llm.Model = anthropicllm.New(client, "claude-haiku-4-5")
	payments := &paymentsFake{}
	lookup := lookupTools(nil)(new(atomic.Int32))[0]
	ctx := context.Background()
	h := newHarness(t)
	runner := h.runner
	var replies []string
	reply := func(_ context.Context, text string) error { replies = append(replies, text); return nil }

	refund := agent.Tool{
		Name: "issue_refund", Description: "Refund an order, in cents.",
		Effect:   agent.Irreversible, // never re-run blindly after a crash or a timeout
		Approval: agent.When("amount_cents > 5000", func(in Refund) bool { return in.AmountCents > 5000 }),
		Handler: agent.Handle(func(ctx context.Context, call agent.Call, in Refund) (string, error) {
			return payments.Refund(ctx, in.OrderID, in.AmountCents, call.Key) // call.Key: idempotency key
		}),
	}
	support, err := agent.New(agent.Config{Model: model, Tools: []agent.Tool{lookup, refund}})
	if err != nil {
		t.Fatal(err)
	}
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		res, err := support.Run(ctx, run, rebound.User("Order 1042 arrived broken. I want my money back."))
		if err != nil {
			return err // a refund over 50.00 waits for approval: errors.Is(err, checkpoint.ErrEscalated)
		}
		return reply(ctx, res.Text)
	}
	err = runner.Run(ctx, "ticket-1042", wf)
	id, _ := h.escalated(err, rebound.ReasonIrreversibleAction)
	h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "alice"})
	if err := runner.Run(ctx, "ticket-1042", wf); err != nil {
		t.Fatal(err)
	}
	if len(payments.keys) != 1 || payments.keys[0] == "" || len(replies) != 1 {
		t.Fatalf("refunds %q, replies %q", payments.keys, replies)
	}
}
