package agent_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
)

// decoy offers the model one tool more than the agent has, as a model that calls a tool that
// does not exist would.
type decoy struct{ llm.Model }

func (d decoy) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	req.Tools = append(req.Tools, llm.Tool{Name: "find_order", Description: "not a tool of the agent"})
	return d.Model.Generate(ctx, req)
}

// sdkModels returns the two adapters, over the official SDKs, talking to a fakellm server
// playing script.
func sdkModels(t *testing.T, script string) map[string]llm.Model {
	srv := fakellm.NewServer(t, script)
	ac := anthropic.NewClient(aoption.WithBaseURL(srv.AnthropicBaseURL), aoption.WithAPIKey("test"), aoption.WithMaxRetries(0))
	oc := openai.NewClient(ooption.WithBaseURL(srv.OpenAIBaseURL), ooption.WithAPIKey("test"), ooption.WithMaxRetries(0))
	return map[string]llm.Model{
		"anthropic": anthropicllm.New(ac, "claude-haiku-4-5"),
		"openai":    openaillm.New(oc, "gpt-4.1"),
	}
}

// TestThroughTheSDKs runs every row of the failure table and every decision kind through
// anthropic-sdk-go and openai-go against fakellm: the tool calls come from the fake over the
// wire, the results go back over the wire, and the fake refuses a conversation with a call
// left without its result.
func TestThroughTheSDKs(t *testing.T) {
	refund := `input='{"order_id":"1042","amount_cents":7999}'`
	type check func(t *testing.T, h *harness, res *agent.Result, err error, runs int32)
	errResult := func(class, text string) check {
		return func(t *testing.T, h *harness, res *agent.Result, err error, _ int32) {
			if err != nil {
				t.Fatal(err)
			}
			c := res.Calls[0]
			if !c.IsError || c.Class != class || !strings.Contains(c.Content, text) || res.Text == "" {
				t.Fatalf("call %+v, answer %q", c, res.Text)
			}
		}
	}
	escalates := func(reason rebound.EscalationReason, runs int32) check {
		return func(t *testing.T, h *harness, _ *agent.Result, err error, got int32) {
			h.escalated(err, reason)
			if got != runs {
				t.Fatalf("handler ran %d times, want %d", got, runs)
			}
		}
	}
	tests := []struct {
		name   string
		script string
		tool   func(n *atomic.Int32) []agent.Tool
		decoy  bool
		decide *rebound.Decision // decision on the first escalation, then resume
		check  check
	}{
		{name: "InvalidInput", script: "tool-use name=lookup_order input='{\"order\":1}' times=1\nok result=lookup_order",
			tool: lookupTools(nil), check: errResult(agent.ClassInvalidInput, `missing required property "order_id"`)},
		{name: "UnknownTool", script: "tool-use name=find_order times=1\nok result=*", decoy: true,
			tool: lookupTools(nil), check: errResult(agent.ClassUnknownTool, "The tools are: lookup_order")},
		{name: "TransientRetried", script: "tool-use name=lookup_order input='{\"order_id\":\"1\"}' times=1\nok result=lookup_order",
			tool: lookupTools(func(n int32) error {
				if n < 3 {
					return &rebound.Error{Class: rebound.ClassTransient, Status: 503}
				}
				return nil
			}), check: func(t *testing.T, _ *harness, res *agent.Result, err error, runs int32) {
				if err != nil || res.Calls[0].IsError || runs != 3 {
					t.Fatalf("%v %+v %d", err, res, runs)
				}
			}},
		{name: "BreakerOpen", script: "tool-use name=lookup_order input='{\"order_id\":\"1\"}' times=1\nok result=lookup_order result-error=true",
			tool: func(n *atomic.Int32) []agent.Tool {
				ts := lookupTools(nil)(n)
				b, _ := breaker.New(breaker.Settings{Name: "x"})
				b.ForceOpen()
				ts[0].Breaker = b
				return ts
			}, check: errResult(agent.ClassUnavailable, "lookup_order is unavailable")},
		{name: "Fallback", script: "tool-use name=lookup_order input='{\"order_id\":\"1\"}' times=1\nok result=lookup_order",
			tool: func(n *atomic.Int32) []agent.Tool {
				ts := lookupTools(func(int32) error { return &rebound.Error{Class: rebound.ClassTransient, Status: 503} })(n)
				ts[0].Fallback = "lookup_cache"
				return append(ts, agent.Tool{Name: "lookup_cache", Effect: agent.ReadOnly,
					Handler: agent.Handle(func(_ context.Context, _ agent.Call, in orderIn) (string, error) { return "cached", nil })})
			}, check: func(t *testing.T, _ *harness, res *agent.Result, err error, _ int32) {
				if err != nil || res.Calls[0].Content != "cached" || res.Calls[0].AnsweredBy != "lookup_cache" {
					t.Fatalf("%v %+v", err, res)
				}
			}},
		{name: "Panic", script: "tool-use name=lookup_order input='{\"order_id\":\"1\"}' times=1\nok result=lookup_order result-error=true",
			tool: lookupTools(func(int32) error { panic("boom") }), check: errResult(agent.ClassPanic, "boom")},
		{name: "IrreversibleAmbiguous", script: "tool-use name=issue_refund input='{\"order_id\":\"1\",\"amount_cents\":100}' times=1\nok result=issue_refund",
			tool:  refundTools(func(int32) error { return &rebound.Error{Class: rebound.ClassTimeout} }),
			check: escalates(rebound.ReasonAmbiguousState, 1)},
		{name: "Approve", script: "tool-use name=issue_refund " + refund + " times=1\nok result=issue_refund",
			tool: refundTools(nil), decide: &rebound.Decision{Action: rebound.ActionApprove, By: "ana"},
			check: func(t *testing.T, _ *harness, res *agent.Result, err error, runs int32) {
				if err != nil || runs != 1 || res.Calls[0].IsError {
					t.Fatalf("%v %+v %d", err, res, runs)
				}
			}},
		{name: "Reject", script: "tool-use name=issue_refund " + refund + " times=1\nok result=issue_refund result-error=true",
			tool: refundTools(nil), decide: &rebound.Decision{Action: rebound.ActionReject, Note: "too much", By: "ana"},
			check: func(t *testing.T, _ *harness, res *agent.Result, err error, runs int32) {
				if err != nil || runs != 0 || res.Calls[0].Class != agent.ClassRejected || !strings.Contains(res.Calls[0].Content, "too much") {
					t.Fatalf("%v %+v %d", err, res, runs)
				}
			}},
		{name: "Respond", script: "tool-use name=issue_refund " + refund + " times=1\nok result=issue_refund result-error=false",
			tool: refundTools(nil), decide: &rebound.Decision{Action: rebound.ActionRespond, Answer: "refunded by hand", By: "ana"},
			check: func(t *testing.T, _ *harness, res *agent.Result, err error, runs int32) {
				if err != nil || runs != 0 || res.Calls[0].Content != "refunded by hand" {
					t.Fatalf("%v %+v %d", err, res, runs)
				}
			}},
		{name: "Edit", script: "tool-use name=issue_refund " + refund + " times=1\nok result=issue_refund result-error=false",
			tool: refundTools(nil), decide: &rebound.Decision{Action: rebound.ActionEdit, Answer: `{"order_id":"1042","amount_cents":4000}`, By: "ana"},
			check: func(t *testing.T, _ *harness, res *agent.Result, err error, runs int32) {
				if err != nil || runs != 1 || string(res.Calls[0].Input) != `{"amount_cents":4000,"order_id":"1042"}` ||
					string(res.Calls[0].OriginalInput) != `{"amount_cents":7999,"order_id":"1042"}` {
					t.Fatalf("%v %+v %d", err, res, runs)
				}
			}},
	}
	for _, tt := range tests {
		for _, provider := range []string{"anthropic", "openai"} {
			t.Run(tt.name+"/"+provider, func(t *testing.T) {
				m := sdkModels(t, tt.script)[provider]
				if tt.decoy {
					m = decoy{m}
				}
				var n atomic.Int32
				h := newHarness(t)
				a := newAgent(t, agent.Config{Model: m, Tools: tt.tool(&n)})
				res, err := h.run(a, "r", "Order 1042 arrived broken.")
				if tt.decide != nil {
					id, _ := h.escalated(err, rebound.ReasonIrreversibleAction)
					h.esc.Decide(id, *tt.decide)
					res, err = h.run(a, "r", "Order 1042 arrived broken.")
				}
				var fe *rebound.Error
				if errors.As(err, &fe) && fe.Class == rebound.ClassInvalid {
					t.Fatalf("the fake refused the conversation: %v", err)
				}
				tt.check(t, h, res, err, n.Load())
			})
		}
	}
}

func lookupTools(fail func(n int32) error) func(n *atomic.Int32) []agent.Tool {
	return func(n *atomic.Int32) []agent.Tool {
		return []agent.Tool{{Name: "lookup_order", Description: "Look an order up.", Effect: agent.ReadOnly, Retry: fastRetry,
			Handler: agent.Handle(func(_ context.Context, _ agent.Call, in orderIn) (order, error) {
				k := n.Add(1)
				if fail != nil {
					if err := fail(k); err != nil {
						return order{}, err
					}
				}
				return order{ID: in.OrderID, Status: "delivered"}, nil
			})}}
	}
}

func refundTools(fail func(n int32) error) func(n *atomic.Int32) []agent.Tool {
	return func(n *atomic.Int32) []agent.Tool {
		return []agent.Tool{{Name: "issue_refund", Description: "Refund an order.", Effect: agent.Irreversible, Retry: fastRetry,
			Timeout:  time.Second,
			Approval: agent.When("amount_cents > 5000", func(in refundIn) bool { return in.AmountCents > 5000 }),
			Handler: agent.Handle(func(_ context.Context, _ agent.Call, in refundIn) (string, error) {
				k := n.Add(1)
				if fail != nil {
					if err := fail(k); err != nil {
						return "", err
					}
				}
				return "refunded", nil
			})}}
	}
}
