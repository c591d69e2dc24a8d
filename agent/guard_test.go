package agent_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
)

type pageIn struct {
	Page int `json:"page"`
}

// pager is a read-only tool whose result is fn's.
func pager(name string, fn func(n int, in pageIn) (string, error)) agent.Tool {
	var n atomic.Int32
	return agent.Tool{Name: name, Effect: agent.ReadOnly, Retry: fastRetry,
		Handler: agent.Handle(func(_ context.Context, _ agent.Call, in pageIn) (string, error) {
			return fn(int(n.Add(1)), in)
		})}
}

// turns returns n turns each calling call(i), then a final answer.
func turns(n int, call func(i int) rebound.Block) []*llm_Response {
	var s []*llm_Response
	for i := range n {
		s = append(s, use("", call(i)))
	}
	return append(s, answer("finished"))
}

func TestLoopDetector(t *testing.T) {
	same := func(int, pageIn) (string, error) { return "page 1 of 1: nothing new", nil }
	tests := []struct {
		name   string
		tools  []agent.Tool
		script []*llm_Response
		lim    agent.Limits
		reason rebound.EscalationReason // "" : must not fire
		calls  int                      // model calls made when it fires
	}{
		{name: "SameCallSameResult", tools: []agent.Tool{pager("list", same)},
			script: turns(10, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":1}`) }),
			reason: rebound.ReasonLoopDetected, calls: agent.DefaultRepeatedCall},
		{name: "SameCallSameResultArgumentsReordered", tools: []agent.Tool{agent.Tool{Name: "find", Effect: agent.ReadOnly,
			Handler: agent.Handle(func(_ context.Context, _ agent.Call, in refundIn) (string, error) { return "none", nil })}},
			script: turns(10, func(i int) rebound.Block {
				if i%2 == 0 {
					return tc("c"+strconv.Itoa(i), "find", `{"order_id":"1","amount_cents":2}`)
				}
				return tc("c"+strconv.Itoa(i), "find", `{ "amount_cents": 2, "order_id": "1" }`)
			}),
			reason: rebound.ReasonLoopDetected, calls: agent.DefaultRepeatedCall},
		{name: "Alternating", tools: []agent.Tool{pager("list", same), pager("count", func(int, pageIn) (string, error) { return "3", nil })},
			script: turns(10, func(i int) rebound.Block {
				if i%2 == 0 {
					return tc("c"+strconv.Itoa(i), "list", `{"page":1}`)
				}
				return tc("c"+strconv.Itoa(i), "count", `{"page":1}`)
			}),
			reason: rebound.ReasonAlternatingCalls, calls: agent.DefaultAlternating},
		{name: "SameCallFailing", tools: []agent.Tool{pager("list", func(int, pageIn) (string, error) {
			return "", rebound.Permanent(errors.New("no such page"))
		})},
			script: turns(10, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":9}`) }),
			reason: rebound.ReasonRepeatedFailure, calls: agent.DefaultFailedCall},
		{name: "MaxTurns", tools: []agent.Tool{pager("list", func(n int, _ pageIn) (string, error) { return "page " + strconv.Itoa(n), nil })},
			script: turns(10, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":`+strconv.Itoa(i)+`}`) }),
			lim:    agent.Limits{MaxTurns: 3}, reason: rebound.ReasonMaxTurns, calls: 3},
		{name: "TokenBudget", tools: []agent.Tool{pager("list", func(n int, _ pageIn) (string, error) { return "page " + strconv.Itoa(n), nil })},
			script: turns(10, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":`+strconv.Itoa(i)+`}`) }),
			lim:    agent.Limits{MaxTokens: 250}, reason: rebound.ReasonBudgetExceeded, calls: 3},
		{name: "CostBudget", tools: []agent.Tool{pager("list", func(n int, _ pageIn) (string, error) { return "page " + strconv.Itoa(n), nil })},
			script: turns(10, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":`+strconv.Itoa(i)+`}`) }),
			lim: agent.Limits{MaxCost: 0.0012, Cost: func(u llm.Usage) float64 {
				return float64(u.InputTokens)*3e-6 + float64(u.OutputTokens)*15e-6
			}}, reason: rebound.ReasonBudgetExceeded, calls: 3},
		// Look alike but progress: must not fire.
		{name: "PagesProgress", tools: []agent.Tool{pager("list", func(_ int, in pageIn) (string, error) { return "page " + strconv.Itoa(in.Page), nil })},
			script: turns(12, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":`+strconv.Itoa(i)+`}`) })},
		{name: "PollingProgresses", tools: []agent.Tool{pager("status", func(n int, _ pageIn) (string, error) { return "job " + strconv.Itoa(n*10) + "% done", nil })},
			script: turns(9, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "status", `{"page":1}`) })},
		{name: "AlternatingButProgressing", tools: []agent.Tool{
			pager("read", func(n int, _ pageIn) (string, error) { return "chunk " + strconv.Itoa(n), nil }),
			pager("count", func(n int, _ pageIn) (string, error) { return strconv.Itoa(n) + " read", nil })},
			script: turns(12, func(i int) rebound.Block {
				if i%2 == 0 {
					return tc("c"+strconv.Itoa(i), "read", `{"page":1}`)
				}
				return tc("c"+strconv.Itoa(i), "count", `{"page":1}`)
			})},
		{name: "RetryWithVariationAfterFailures", tools: []agent.Tool{pager("list", func(_ int, in pageIn) (string, error) {
			if in.Page > 3 {
				return "", rebound.Permanent(errors.New("no such page"))
			}
			return "ok", nil
		})},
			script: turns(6, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":`+strconv.Itoa(9-i)+`}`) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			m := &llmtest.Scripted{Script: tt.script}
			res, err := h.run(newAgent(t, agent.Config{Model: m, Tools: tt.tools, Limits: tt.lim}), "r", "go")
			if tt.reason == "" {
				if err != nil || res.Text != "finished" {
					t.Fatalf("a progressing conversation was stopped: %v", err)
				}
				return
			}
			h.escalated(err, tt.reason)
			if m.Calls() != tt.calls {
				t.Fatalf("fired after %d model calls, want %d", m.Calls(), tt.calls)
			}
		})
	}
}

func TestGuardDecisions(t *testing.T) {
	loop := func(t *testing.T) (*harness, *llmtest.Scripted, *agent.Agent, string) {
		h := newHarness(t)
		m := &llmtest.Scripted{Script: turns(12, func(i int) rebound.Block { return tc("c"+strconv.Itoa(i), "list", `{"page":1}`) })}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{pager("list", func(int, pageIn) (string, error) { return "same", nil })}})
		_, err := h.run(a, "r", "go")
		id, _ := h.escalated(err, rebound.ReasonLoopDetected)
		return h, m, a, id
	}
	t.Run("ApproveGoesOnWithFreshCounters", func(t *testing.T) {
		h, m, a, id := loop(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
		_, err := h.run(a, "r", "go")
		h.escalated(err, rebound.ReasonLoopDetected)
		if m.Calls() != 2*agent.DefaultRepeatedCall {
			t.Fatalf("%d model calls, want %d", m.Calls(), 2*agent.DefaultRepeatedCall)
		}
	})
	t.Run("RespondGuidesTheModel", func(t *testing.T) {
		h, m, a, id := loop(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionRespond, Answer: "Stop listing; answer with what you have.", By: "ana"})
		_, _ = h.run(a, "r", "go")
		req := m.Requests()[agent.DefaultRepeatedCall]
		last := req.Messages[len(req.Messages)-1]
		if len(last.ToolResultBlocks()) != 1 || !strings.Contains(last.Text(), "A reviewer says: Stop listing") {
			t.Fatalf("the model was not told: %+v", last)
		}
	})
	t.Run("RejectStopsTheRun", func(t *testing.T) {
		h, _, a, id := loop(t)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionReject, Note: "going nowhere", By: "ana"})
		_, err := h.run(a, "r", "go")
		var se *agent.StoppedError
		if !errors.As(err, &se) || se.Reason != rebound.ReasonLoopDetected || se.Note != "going nowhere" {
			t.Fatalf("got %v", err)
		}
	})
}

// TestCountersSurviveResume: the counters come from the journal, so a run that stops (here for
// an approval) after three identical calls fires on the fourth once resumed.
func TestCountersSurviveResume(t *testing.T) {
	h := newHarness(t)
	var rc counter
	m := &llmtest.Scripted{Script: []*llm_Response{
		use("", tc("a", "list", `{"page":1}`)),
		use("", tc("b", "list", `{"page":1}`)),
		use("", tc("c", "list", `{"page":1}`), tc("r", "issue_refund", `{"order_id":"1","amount_cents":9999}`)),
		use("", tc("d", "list", `{"page":1}`)),
		answer("finished"),
	}}
	a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{pager("list", func(int, pageIn) (string, error) { return "same", nil }), refundTool(&rc, nil)}})
	_, err := h.run(a, "r", "go")
	id, _ := h.escalated(err, rebound.ReasonIrreversibleAction)
	h.esc.Decide(id, rebound.Decision{Action: rebound.ActionApprove, By: "ana"})
	_, err = h.run(a, "r", "go")
	h.escalated(err, rebound.ReasonLoopDetected)
	if m.Calls() != 4 || rc.n.Load() != 1 {
		t.Fatalf("%d model calls, %d refunds", m.Calls(), rc.n.Load())
	}
}

type scored struct {
	Answer string  `json:"answer"`
	Score  float64 `json:"score"`
}

func (s scored) Confidence() float64 { return s.Score }

func TestLowConfidence(t *testing.T) {
	classify := agent.Tool{Name: "classify", Effect: agent.ReadOnly,
		Handler: agent.Handle(func(_ context.Context, _ agent.Call, in pageIn) (scored, error) {
			return scored{Answer: "refund", Score: 0.41}, nil
		})}
	t.Run("ToolResult", func(t *testing.T) {
		h := newHarness(t)
		m := &llmtest.Scripted{Script: []*llm_Response{use("", tc("c1", "classify", `{"page":1}`)), answer("finished")}}
		a := newAgent(t, agent.Config{Model: m, Tools: []agent.Tool{classify}, MinConfidence: 0.7})
		_, err := h.run(a, "r", "go")
		id, esc := h.escalated(err, rebound.ReasonLowConfidence)
		if !strings.Contains(esc.Context, "confidence 0.41, under 0.70") {
			t.Fatalf("%q", esc.Context)
		}
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionRespond, Answer: `{"answer":"replace"}`, By: "ana"})
		res, err := h.run(a, "r", "go")
		if err != nil || results(m.Last())[0].ResultText() != `{"answer":"replace"}` || res.Calls[0].Decision != "respond" {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("FinalAnswer", func(t *testing.T) {
		h := newHarness(t)
		m := &llmtest.Scripted{Script: []*llm_Response{answer("maybe refund? (confidence 0.3)"), answer("refund (confidence 0.9)")}}
		conf := func(s string) (float64, bool) {
			if strings.Contains(s, "0.3") {
				return 0.3, true
			}
			return 0.9, true
		}
		a := newAgent(t, agent.Config{Model: m, MinConfidence: 0.7, AnswerConfidence: conf})
		_, err := h.run(a, "r", "go")
		id, _ := h.escalated(err, rebound.ReasonLowConfidence)
		h.esc.Decide(id, rebound.Decision{Action: rebound.ActionReject, Note: "check the photos first", By: "ana"})
		res, err := h.run(a, "r", "go")
		if err != nil || res.Text != "refund (confidence 0.9)" || !strings.Contains(m.Last().Messages[len(m.Last().Messages)-1].Text(), "check the photos first") {
			t.Fatalf("%v %+v", err, res)
		}
	})
}
