package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/llm"
)

// oneCall is a model that calls issue_refund once, then answers.
type oneCall struct{ n int }

func (m *oneCall) Name() string       { return "test/one-call" }
func (m *oneCall) ContextWindow() int { return 0 }
func (m *oneCall) Stream(ctx context.Context, r llm.Request, _ func(llm.Delta)) (*llm.Response, error) {
	return m.Generate(ctx, r)
}
func (m *oneCall) Generate(context.Context, llm.Request) (*llm.Response, error) {
	if m.n++; m.n == 1 {
		return &llm.Response{Text: "The teapot broke: refunding it.", Blocks: []rebound.Block{rebound.Text("The teapot broke: refunding it."),
			rebound.ToolUse("call_1", "issue_refund", json.RawMessage(`{"order_id":"1042","amount_cents":7999,"card":"sk-ant-api03-SECRETSECRETSECRET"}`))},
			StopReason: llm.StopToolUse}, nil
	}
	return &llm.Response{Text: "Refunded.", StopReason: llm.StopEndTurn}, nil
}

type refundArgs struct {
	OrderID     string `json:"order_id"`
	AmountCents int    `json:"amount_cents"`
	Card        string `json:"card"`
}

// A run's timeline shows its tool calls (tool, effect, redacted arguments, result), and the
// approval page the exact call, the model's reason and what approving does, with no decision
// preselected.
func TestToolCallsOnTheRunAndApprovalPages(t *testing.T) {
	b := setup(t, setupOpts{})
	a, err := agent.New(agent.Config{Model: &oneCall{}, Tools: []agent.Tool{{
		Name: "issue_refund", Effect: agent.Irreversible,
		Approval: agent.When("amount_cents > 5000", func(in refundArgs) bool { return in.AmountCents > 5000 }),
		Handler:  agent.Handle(func(context.Context, agent.Call, refundArgs) (string, error) { return "refunded 79.99", nil }),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := a.Run(ctx, run, rebound.User("Order 1042 arrived broken."))
		return err
	}
	err = b.runner.Run(t.Context(), "ticket", wf)
	var esc *checkpoint.EscalatedError
	if !errors.As(err, &esc) {
		t.Fatalf("got %v, want an escalation", err)
	}
	page := b.get(t, "/escalations/"+esc.EscalationID)
	wantStatus(t, page, 200)
	wantBody(t, page, "issue_refund", "irreversible", "amount_cents", "The teapot broke: refunding it.", "Approving runs issue_refund once")
	wantNoBody(t, page, "SECRETSECRETSECRET", " checked")

	if _, err := b.queue.Resolve(t.Context(), esc.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if err := b.runner.Run(t.Context(), "ticket", wf); err != nil {
		t.Fatal(err)
	}
	page = b.get(t, "/runs/ticket")
	wantStatus(t, page, 200)
	wantBody(t, page, "tool-call", "issue_refund", "irreversible", "amount_cents", "result: refunded 79.99", "decision: approve by ana")
	wantNoBody(t, page, "SECRETSECRETSECRET")
}
