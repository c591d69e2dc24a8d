package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/llm"
)

// use is a model turn that calls tools, after saying text.
func use(text string, calls ...rebound.Block) *llm.Response {
	var bs []rebound.Block
	if text != "" {
		bs = append(bs, rebound.Text(text))
	}
	bs = append(bs, calls...)
	return &llm.Response{Text: text, Blocks: bs, StopReason: llm.StopToolUse, Usage: llm.Usage{InputTokens: 100, OutputTokens: 10}}
}

// answer is a final model turn.
func answer(text string) *llm.Response {
	return &llm.Response{Text: text, StopReason: llm.StopEndTurn, Usage: llm.Usage{InputTokens: 100, OutputTokens: 10}}
}

func tc(id, name, input string) rebound.Block {
	return rebound.ToolUse(id, name, json.RawMessage(input))
}

// harness runs an agent under a durable runner with an in-memory store and escalator.
type harness struct {
	t      *testing.T
	runner *checkpoint.Runner
	esc    *checkpointtest.Escalator
	events []rebound.Event
	mu     sync.Mutex
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, esc: &checkpointtest.Escalator{}}
	h.runner = checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: h.esc, Hook: func(_ context.Context, e rebound.Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
	}})
	return h
}

// run runs a on run id with prompt and returns the result and error.
func (h *harness) run(a *agent.Agent, id, prompt string) (*agent.Result, error) {
	var res *agent.Result
	err := h.runner.Run(context.Background(), id, func(ctx context.Context, run *checkpoint.Run) error {
		r, err := a.Run(ctx, run, rebound.User(prompt))
		res = r
		return err
	})
	return res, err
}

// escalated returns the escalation err is, failing the test otherwise.
func (h *harness) escalated(err error, reason rebound.EscalationReason) (string, rebound.Escalation) {
	h.t.Helper()
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) {
		h.t.Fatalf("got %v, want an escalation (%s)", err, reason)
	}
	if ee.Reason != reason {
		h.t.Fatalf("escalated with reason %q (%v), want %q", ee.Reason, err, reason)
	}
	ids, items := h.esc.Items()
	for i, id := range ids {
		if id == ee.EscalationID {
			return id, items[i]
		}
	}
	h.t.Fatalf("escalation %s not found", ee.EscalationID)
	return "", rebound.Escalation{}
}

func (h *harness) toolEvents() []rebound.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []rebound.Event
	for _, e := range h.events {
		switch e.Kind {
		case rebound.ToolStarted, rebound.ToolCompleted, rebound.ToolFailed:
			out = append(out, e)
		}
	}
	return out
}

func newAgent(t *testing.T, c agent.Config) *agent.Agent {
	t.Helper()
	a, err := agent.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// results returns the tool-result blocks of the last request's last message.
func results(req llm.Request) []rebound.Block {
	if len(req.Messages) == 0 {
		return nil
	}
	return req.Messages[len(req.Messages)-1].ToolResultBlocks()
}

type llmResponse = llm.Response

type ctxT = context.Context
