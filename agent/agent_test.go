package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/retry"
)

type orderIn struct {
	OrderID string `json:"order_id" desc:"the order number"`
}

type refundIn struct {
	OrderID     string `json:"order_id"`
	AmountCents int    `json:"amount_cents"`
}

type order struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// counter counts a handler's executions and the keys it saw.
type counter struct {
	n    atomic.Int32
	keys []string
	ins  []string
}

func lookupTool(c *counter, fail func(n int) error) agent.Tool {
	return agent.Tool{
		Name: "lookup_order", Description: "Look an order up.", Effect: agent.ReadOnly,
		Retry: retry.Policy{Base: time.Millisecond, Cap: time.Millisecond},
		Handler: agent.Handle(func(ctx context.Context, call agent.Call, in orderIn) (order, error) {
			n := int(c.n.Add(1))
			c.keys = append(c.keys, call.Key)
			if fail != nil {
				if err := fail(n); err != nil {
					return order{}, err
				}
			}
			return order{ID: in.OrderID, Status: "delivered"}, nil
		}),
	}
}

func refundTool(c *counter, fail func(n int) error) agent.Tool {
	return agent.Tool{
		Name: "issue_refund", Description: "Refund an order.", Effect: agent.Irreversible,
		Approval: agent.When("amount_cents > 5000", func(in refundIn) bool { return in.AmountCents > 5000 }),
		Retry:    retry.Policy{Base: time.Millisecond, Cap: time.Millisecond},
		Handler: agent.Handle(func(ctx context.Context, call agent.Call, in refundIn) (string, error) {
			n := int(c.n.Add(1))
			c.keys = append(c.keys, call.Key)
			if call.Fence.Key != call.Key || call.Fence.Epoch == 0 {
				return "", rebound.Permanent(fmt.Errorf("fencing token %+v does not match key %q", call.Fence, call.Key))
			}
			b, _ := json.Marshal(in)
			c.ins = append(c.ins, string(b))
			if fail != nil {
				if err := fail(n); err != nil {
					return "", err
				}
			}
			return "refunded", nil
		}),
	}
}

func TestRunCallsToolsAndAnswers(t *testing.T) {
	h := newHarness(t)
	var lc counter
	m := &llmtest.Scripted{Script: []*llm_Response{
		use("Let me look.", tc("c1", "lookup_order", `{"order_id":"1042"}`)),
		answer("Your order was delivered."),
	}}
	a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{lookupTool(&lc, nil)}})
	res, err := h.run(a, "r1", "Where is order 1042?")
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Your order was delivered." || res.Turns != 2 || len(res.Calls) != 1 {
		t.Fatalf("result %+v", res)
	}
	rs := results(m.Last())
	if len(rs) != 1 || rs[0].CallID != "c1" || rs[0].IsError || rs[0].ResultText() != `{"id":"1042","status":"delivered"}` {
		t.Fatalf("tool results sent %+v", rs)
	}
	if len(m.Requests()[0].Tools) != 1 || !strings.Contains(string(m.Requests()[0].Tools[0].InputSchema), `"order_id"`) {
		t.Fatalf("tools sent %+v", m.Requests()[0].Tools)
	}
	ev := h.toolEvents()
	if len(ev) != 2 || ev[0].Kind != rebound.ToolStarted || ev[1].Kind != rebound.ToolCompleted ||
		ev[1].Tool != "lookup_order" || ev[1].CallID != "c1" || ev[1].Effect != "read_only" || ev[1].Step != "tool:c1" {
		t.Fatalf("tool events %+v", ev)
	}
}

func TestResumeReplaysWithoutAskingAgain(t *testing.T) {
	h := newHarness(t)
	var lc, rc counter
	m := &llmtest.Scripted{Script: []*llm_Response{
		use("", tc("c1", "lookup_order", `{"order_id":"1042"}`)),
		use("The order arrived broken; refunding 79.99.", tc("c2", "issue_refund", `{"amount_cents":7999,"order_id":"1042"}`)),
		answer("Refunded."),
	}}
	a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{lookupTool(&lc, nil), refundTool(&rc, nil)}})
	_, err := h.run(a, "r1", "Order 1042 arrived broken.")
	id, esc := h.escalated(err, rebound.ReasonIrreversibleAction)
	for _, want := range []string{"issue_refund", `{"amount_cents":7999,"order_id":"1042"}`, "irreversible", "refunding 79.99", "amount_cents > 5000", "Approving runs issue_refund once"} {
		if !strings.Contains(esc.Context, want) {
			t.Errorf("approval context lacks %q:\n%s", want, esc.Context)
		}
	}
	if m.Calls() != 2 || rc.n.Load() != 0 {
		t.Fatalf("before approval: %d model calls, %d refunds", m.Calls(), rc.n.Load())
	}
	// Resumed before a decision: still waiting, nothing asked or run again.
	_, err = h.run(a, "r1", "Order 1042 arrived broken.")
	h.escalated(err, rebound.ReasonIrreversibleAction)
	h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	res, err := h.run(a, "r1", "Order 1042 arrived broken.")
	if err != nil {
		t.Fatal(err)
	}
	if m.Calls() != 3 || lc.n.Load() != 1 || rc.n.Load() != 1 || res.Text != "Refunded." {
		t.Fatalf("after approval: %d model calls (want 3), %d lookups, %d refunds, %q", m.Calls(), lc.n.Load(), rc.n.Load(), res.Text)
	}
	// Completed: a rerun replays everything and runs nothing.
	if _, err := h.run(a, "r1", "Order 1042 arrived broken."); err != nil {
		t.Fatal(err)
	}
	if m.Calls() != 3 || rc.n.Load() != 1 {
		t.Fatalf("replay asked or ran again: %d model calls, %d refunds", m.Calls(), rc.n.Load())
	}
}

func TestIdempotencyKeyStableAcrossAttemptsAndResumes(t *testing.T) {
	h := newHarness(t)
	var ic counter
	idem := agent.Tool{
		Name: "set_status", Effect: agent.Idempotent,
		Retry: retry.Policy{Base: time.Millisecond, Cap: time.Millisecond},
		Handler: agent.Handle(func(ctx context.Context, call agent.Call, in orderIn) (string, error) {
			n := ic.n.Add(1)
			ic.keys = append(ic.keys, call.Key)
			if n == 1 {
				return "", rebound.Transient(errors.New("connection reset"))
			}
			return "ok", nil
		}),
	}
	var rc counter
	m := &llmtest.Scripted{Script: []*llm_Response{
		use("", tc("c1", "set_status", `{"order_id":"1"}`), tc("c2", "issue_refund", `{"order_id":"1","amount_cents":9000}`)),
		answer("done"),
	}}
	a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{idem, refundTool(&rc, nil)}})
	_, err := h.run(a, "r1", "go")
	id, _ := h.escalated(err, rebound.ReasonIrreversibleAction)
	h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	if _, err := h.run(a, "r1", "go"); err != nil {
		t.Fatal(err)
	}
	if len(ic.keys) != 2 || ic.keys[0] != ic.keys[1] || ic.keys[0] == "" {
		t.Fatalf("keys of the attempts %q: want two equal, non-empty", ic.keys)
	}
	if rc.keys[0] == ic.keys[0] {
		t.Fatalf("two calls share a key %q", rc.keys[0])
	}
	// Another run gets other keys.
	h2 := newHarness(t)
	m.Reset()
	ic.n.Store(1)
	ic.keys = nil
	rc.keys = nil
	_, err = h2.run(a, "r2", "go")
	id, _ = h2.escalated(err, rebound.ReasonIrreversibleAction)
	_ = id
	if len(ic.keys) != 1 || ic.keys[0] == "" {
		t.Fatalf("keys %q", ic.keys)
	}
}

// TestFailureTable checks each row of the package doc's failure table.
func TestFailureTable(t *testing.T) {
	t.Run("InvalidInputIsAnErrorResultTheModelCorrects", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		m := &llmtest.Scripted{Script: []*llm_Response{
			use("", tc("c1", "lookup_order", `{"order":"1042"}`)),
			use("", tc("c2", "lookup_order", `{"order_id":"1042"}`)),
			answer("ok"),
		}}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{lookupTool(&lc, nil)}})
		res, err := h.run(a, "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		rs := results(m.Requests()[1])
		if len(rs) != 1 || !rs[0].IsError || !strings.Contains(rs[0].ResultText(), `missing required property "order_id"`) ||
			!strings.Contains(rs[0].ResultText(), `unknown property "order"`) {
			t.Fatalf("invalid input result %+v", rs)
		}
		if lc.n.Load() != 1 || res.Calls[0].Class != agent.ClassInvalidInput || res.Calls[1].IsError {
			t.Fatalf("handler ran %d times, calls %+v", lc.n.Load(), res.Calls)
		}
	})
	t.Run("InvalidInputNTimesInARowEscalates", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		m := &llmtest.Scripted{Script: []*llm_Response{
			use("", tc("c1", "lookup_order", `{"id":1}`)),
			use("", tc("c2", "lookup_order", `{"id":2}`)),
			use("", tc("c3", "lookup_order", `{"order_id":3}`)),
		}}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{lookupTool(&lc, nil)}})
		_, err := h.run(a, "r", "x")
		_, esc := h.escalated(err, rebound.ReasonRepeatedFailure)
		if !strings.Contains(esc.Context, "refused the model's arguments 3 times in a row") || lc.n.Load() != 0 {
			t.Fatalf("context %q, %d runs", esc.Context, lc.n.Load())
		}
	})
	t.Run("TransientRetriedInsideTheStep", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "lookup_order", `{"order_id":"1"}`)), answer("ok")}}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{lookupTool(&lc, func(n int) error {
			if n == 1 {
				return &rebound.Error{Class: rebound.ClassTransient, Message: "503"}
			}
			return nil
		})}})
		res, err := h.run(a, "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		if lc.n.Load() != 2 || res.Calls[0].IsError {
			t.Fatalf("%d attempts, %+v", lc.n.Load(), res.Calls[0])
		}
	})
	t.Run("TimeoutRetriedForReadOnly", func(t *testing.T) {
		h := newHarness(t)
		var n atomic.Int32
		slow := agent.Tool{Name: "search", Effect: agent.ReadOnly, Timeout: 5 * time.Millisecond,
			Retry: retry.Policy{Base: time.Millisecond, Cap: time.Millisecond},
			Handler: agent.Handle(func(ctx context.Context, _ agent.Call, in orderIn) (string, error) {
				if n.Add(1) == 1 {
					<-ctx.Done()
					return "", ctx.Err()
				}
				return "found", nil
			})}
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "search", `{"order_id":"1"}`)), answer("ok")}}
		res, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{slow}}), "r", "x")
		if err != nil || n.Load() != 2 || res.Calls[0].Content != "found" {
			t.Fatalf("err %v, %d attempts, %+v", err, n.Load(), res)
		}
	})
	t.Run("IrreversibleAmbiguousEscalatesNeverReruns", func(t *testing.T) {
		h := newHarness(t)
		var rc counter
		tool := refundTool(&rc, func(n int) error {
			if n == 1 {
				return &rebound.Error{Class: rebound.ClassTimeout, Message: "no answer from payments"}
			}
			return nil
		})
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "issue_refund", `{"order_id":"1","amount_cents":100}`)), answer("ok")}}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool}})
		_, err := h.run(a, "r", "x")
		id, esc := h.escalated(err, rebound.ReasonAmbiguousState)
		if !strings.Contains(esc.Context, `issue_refund {"amount_cents":100,"order_id":"1"}`) || !strings.Contains(esc.Context, "c1") {
			t.Fatalf("context lacks the exact call: %s", esc.Context)
		}
		if rc.n.Load() != 1 {
			t.Fatalf("irreversible tool ran %d times, want 1 (never retried)", rc.n.Load())
		}
		_, err = h.run(a, "r", "x")
		h.escalated(err, rebound.ReasonAmbiguousState)
		if rc.n.Load() != 1 {
			t.Fatalf("resume re-ran the call in doubt: %d runs", rc.n.Load())
		}
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionRespond, Answer: "refund 1 went through (checked with payments)", By: "ana"})
		res, err := h.run(a, "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		if rc.n.Load() != 1 || res.Calls[0].Content != "refund 1 went through (checked with payments)" {
			t.Fatalf("%d runs, %+v", rc.n.Load(), res.Calls[0])
		}
	})
	t.Run("IrreversibleRefusedBeforeEffectRetried", func(t *testing.T) {
		h := newHarness(t)
		var rc counter
		tool := refundTool(&rc, func(n int) error {
			if n == 1 {
				return &rebound.Error{Class: rebound.ClassRateLimited, Message: "429"}
			}
			return nil
		})
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "issue_refund", `{"order_id":"1","amount_cents":100}`)), answer("ok")}}
		if _, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool}}), "r", "x"); err != nil || rc.n.Load() != 2 {
			t.Fatalf("err %v, %d runs", err, rc.n.Load())
		}
	})
	t.Run("BreakerOpenTellsTheModel", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		b, _ := breaker.New(breaker.Settings{Name: "lookup"})
		b.ForceOpen()
		tool := lookupTool(&lc, nil)
		tool.Breaker = b
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "lookup_order", `{"order_id":"1"}`)), answer("ok")}}
		res, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool}}), "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		rs := results(m.Last())
		if lc.n.Load() != 0 || len(rs) != 1 || !rs[0].IsError || !strings.Contains(rs[0].ResultText(), "lookup_order is unavailable") ||
			res.Calls[0].Class != agent.ClassUnavailable {
			t.Fatalf("%d runs, results %+v", lc.n.Load(), rs)
		}
	})
	t.Run("RetriesExhaustedUseTheFallback", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		tool := lookupTool(&lc, func(int) error { return &rebound.Error{Class: rebound.ClassTransient, Message: "down"} })
		tool.Fallback = "lookup_cache"
		cache := agent.Tool{Name: "lookup_cache", Effect: agent.ReadOnly,
			Handler: agent.Handle(func(_ context.Context, _ agent.Call, in orderIn) (string, error) { return "cached " + in.OrderID, nil })}
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "lookup_order", `{"order_id":"1"}`)), answer("ok")}}
		res, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool, cache}}), "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		if lc.n.Load() != agent.DefaultToolMaxAttempts || res.Calls[0].Content != "cached 1" || res.Calls[0].AnsweredBy != "lookup_cache" {
			t.Fatalf("%d attempts, %+v", lc.n.Load(), res.Calls[0])
		}
	})
	t.Run("UnavailableEscalatesWhenConfigured", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		tool := lookupTool(&lc, func(int) error { return &rebound.Error{Class: rebound.ClassTransient, Message: "down"} })
		tool.EscalateUnavailable = true
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "lookup_order", `{"order_id":"1"}`)), answer("ok")}}
		_, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool}}), "r", "x")
		h.escalated(err, rebound.ReasonMaxRetriesExceeded)
	})
	t.Run("UnknownToolNamesTheTools", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "find_order", `{"order_id":"1"}`)), answer("ok")}}
		res, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{lookupTool(&lc, nil)}}), "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		rs := results(m.Last())
		if !rs[0].IsError || !strings.Contains(rs[0].ResultText(), `"find_order" is not a tool. The tools are: lookup_order.`) || res.Calls[0].Class != agent.ClassUnknownTool {
			t.Fatalf("%+v", rs)
		}
	})
	t.Run("PanicIsAFailedCall", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "lookup_order", `{"order_id":"1"}`)), answer("ok")}}
		tool := lookupTool(&lc, func(int) error { panic("nil map") })
		res, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool}}), "r", "x")
		if err != nil {
			t.Fatal(err)
		}
		if lc.n.Load() != 1 || !res.Calls[0].IsError || res.Calls[0].Class != agent.ClassPanic || !strings.Contains(res.Calls[0].Content, "nil map") {
			t.Fatalf("%d runs, %+v", lc.n.Load(), res.Calls[0])
		}
	})
	t.Run("IrreversiblePanicIsInDoubt", func(t *testing.T) {
		h := newHarness(t)
		var rc counter
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "issue_refund", `{"order_id":"1","amount_cents":1}`)), answer("ok")}}
		tool := refundTool(&rc, func(int) error { panic("after the transfer") })
		_, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{tool}}), "r", "x")
		h.escalated(err, rebound.ReasonAmbiguousState)
	})
	t.Run("EveryCallGetsAResult", func(t *testing.T) {
		h := newHarness(t)
		var lc counter
		m := &llmtest.Scripted{Script: []*llm_Response{
			use("", tc("a", "lookup_order", `{"order_id":"1"}`), tc("b", "nope", `{}`), tc("c", "lookup_order", `not json`)),
			answer("ok"),
		}}
		if _, err := h.run(newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{lookupTool(&lc, nil)}}), "r", "x"); err != nil {
			t.Fatal(err)
		}
		rs := results(m.Last())
		if len(rs) != 3 || rs[0].CallID != "a" || rs[1].CallID != "b" || rs[2].CallID != "c" || !rs[1].IsError || !rs[2].IsError {
			t.Fatalf("%+v", rs)
		}
	})
}

type llm_Response = llmResponse

var fastRetry = retry.Policy{Base: time.Millisecond, Cap: time.Millisecond}
