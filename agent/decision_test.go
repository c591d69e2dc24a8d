package agent_test

import (
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/llm/llmtest"
)

// TestDecisions checks every decision kind on a call waiting for approval.
func TestDecisions(t *testing.T) {
	refund := `{"amount_cents":7999,"order_id":"1042"}`
	start := func(t *testing.T) (*harness, *llmtest.Scripted, *counter, *agent.Agent, string) {
		h := newHarness(t)
		var rc counter
		m := &llmtest.Scripted{Script: []*llm_Response{
			use("Refunding the broken order.", tc("c1", "issue_refund", refund)),
			answer("Done."),
		}}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{refundTool(&rc, nil), lookupTool(&counter{}, nil)}})
		_, err := h.run(a, "r", "refund 1042")
		id, _ := h.escalated(err, rebound.ReasonIrreversibleAction)
		return h, m, &rc, a, id
	}
	t.Run("ApproveRunsOnce", func(t *testing.T) {
		h, _, rc, a, id := start(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
		res, err := h.run(a, "r", "refund 1042")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.run(a, "r", "refund 1042"); err != nil {
			t.Fatal(err)
		}
		if rc.n.Load() != 1 || rc.ins[0] != `{"order_id":"1042","amount_cents":7999}` || res.Calls[0].Decision != "approve" || res.Calls[0].By != "ana" {
			t.Fatalf("%d runs %q, %+v", rc.n.Load(), rc.ins, res.Calls[0])
		}
	})
	t.Run("RejectTellsTheModelAndGoesOn", func(t *testing.T) {
		h, m, rc, a, id := start(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionReject, Note: "over the limit for this customer", By: "ana"})
		res, err := h.run(a, "r", "refund 1042")
		if err != nil {
			t.Fatalf("a rejected call failed the run: %v", err)
		}
		rs := results(m.Last())
		if rc.n.Load() != 0 || !rs[0].IsError || !strings.Contains(rs[0].ResultText(), "over the limit for this customer") ||
			res.Calls[0].Class != agent.ClassRejected || res.Text != "Done." {
			t.Fatalf("%d runs, %+v, %q", rc.n.Load(), rs, res.Text)
		}
	})
	t.Run("RespondIsTheResult", func(t *testing.T) {
		h, m, rc, a, id := start(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionRespond, Answer: "Refunded by hand: RF-77.", By: "ana"})
		if _, err := h.run(a, "r", "refund 1042"); err != nil {
			t.Fatal(err)
		}
		rs := results(m.Last())
		if rc.n.Load() != 0 || rs[0].IsError || rs[0].ResultText() != "Refunded by hand: RF-77." {
			t.Fatalf("%d runs, %+v", rc.n.Load(), rs)
		}
	})
	t.Run("EditRunsWithEditedArgumentsKeepingTheOriginal", func(t *testing.T) {
		h, _, rc, a, id := start(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionEdit, Answer: `{"order_id":"1042","amount_cents":5000}`, By: "ana"})
		res, err := h.run(a, "r", "refund 1042")
		if err != nil {
			t.Fatal(err)
		}
		c := res.Calls[0]
		if rc.n.Load() != 1 || rc.ins[0] != `{"order_id":"1042","amount_cents":5000}` ||
			string(c.Input) != `{"amount_cents":5000,"order_id":"1042"}` || string(c.OriginalInput) != refund || c.Decision != "edit" {
			t.Fatalf("%d runs %q, %+v", rc.n.Load(), rc.ins, c)
		}
	})
	t.Run("InvalidEditAsksAgain", func(t *testing.T) {
		h, _, rc, a, id := start(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionEdit, Answer: `{"order_id":"1042","amount":50}`, By: "ana"})
		_, err := h.run(a, "r", "refund 1042")
		id2, esc := h.escalated(err, rebound.ReasonIrreversibleAction)
		if id2 == id || !strings.Contains(esc.Context, "The previous edit could not be used") || rc.n.Load() != 0 {
			t.Fatalf("%s %q %d", id2, esc.Context, rc.n.Load())
		}
	})
	t.Run("EditToAnotherToolCheckedAgainstItsRule", func(t *testing.T) {
		h := newHarness(t)
		var rc, cc counter
		credit := refundTool(&cc, nil)
		credit.Name = "issue_credit"
		credit.Approval = agent.Always()
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "issue_refund", refund)), answer("Done.")}}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{refundTool(&rc, nil), credit}})
		_, err := h.run(a, "r", "x")
		id, _ := h.escalated(err, rebound.ReasonIrreversibleAction)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionEdit, Answer: `{"tool":"issue_credit","arguments":{"order_id":"1042","amount_cents":7999}}`, By: "ana"})
		_, err = h.run(a, "r", "x")
		id2, esc := h.escalated(err, rebound.ReasonIrreversibleAction)
		if !strings.Contains(esc.Context, "issue_credit, whose approval rule (every call) needs approval") || cc.n.Load() != 0 {
			t.Fatalf("%q, %d credits", esc.Context, cc.n.Load())
		}
		h.esc.Decide(id2, rebound.Decision{Action: rebound.ActionApprove, By: "bo"})
		res, err := h.run(a, "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		c := res.Calls[0]
		if cc.n.Load() != 1 || rc.n.Load() != 0 || c.Tool != "issue_credit" || c.OriginalTool != "issue_refund" {
			t.Fatalf("%d credits, %d refunds, %+v", cc.n.Load(), rc.n.Load(), c)
		}
	})
	t.Run("EditToAnotherToolWithoutApprovalRuns", func(t *testing.T) {
		h, _, rc, a, id := start(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionEdit, Answer: `{"tool":"lookup_order","arguments":{"order_id":"1042"}}`, By: "ana"})
		res, err := h.run(a, "r", "refund 1042")
		if err != nil {
			t.Fatal(err)
		}
		if rc.n.Load() != 0 || res.Calls[0].Tool != "lookup_order" || res.Calls[0].IsError {
			t.Fatalf("%+v", res.Calls[0])
		}
	})
	t.Run("SmallRefundNeedsNoApproval", func(t *testing.T) {
		h := newHarness(t)
		var rc counter
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "issue_refund", `{"order_id":"1","amount_cents":5000}`)), answer("Done.")}}
		if _, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{refundTool(&rc, nil)}}), "r", "x"); err != nil || rc.n.Load() != 1 {
			t.Fatalf("%v, %d", err, rc.n.Load())
		}
	})
}
