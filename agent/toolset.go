package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/llm"
)

// ToolsetConfig configures a Toolset. Tools is required.
type ToolsetConfig struct {
	// Tools are the tools the Toolset runs.
	Tools []Tool
	// Breakers is the set the tools' breakers come from ("tool/NAME"), unless a Tool has a
	// Breaker of its own. Nil: a new Set with breaker's defaults.
	Breakers *breaker.Set
	// Hook receives the tool_started, tool_completed and tool_failed events of every call.
	Hook rebound.Hook
}

// Toolset runs tool calls with the agent loop's semantics when the loop is not the Agent's: a
// framework that runs its own loop (langchaingo's executor, Genkit's generate, Eino's tools
// node) hands each call to Call, and gets back what the Agent would have sent the model. Its
// calls are validated against the tool's schema, retried by the tool's effect, guarded by the
// tool's breaker and bounded by its timeout, exactly as in Agent.Run (see the failure table in
// the package documentation); a failure becomes an error result, not an error, unless the
// Agent would have escalated.
//
// Outside a checkpoint.Run nothing is journaled: a crash forgets the calls, and a call whose
// outcome is in doubt or that needs approval is an escalation error for the caller (the
// framework's run stops) rather than a step a person decides. Run tools through Agent.Run
// when they must survive a crash. A Toolset is safe for concurrent use.
type Toolset struct{ a *Agent }

// NewToolset returns a Toolset, or an error naming what in c is wrong.
func NewToolset(c ToolsetConfig) (*Toolset, error) {
	a, err := build(Config{Tools: c.Tools, Breakers: c.Breakers, Hook: c.Hook})
	if err != nil {
		return nil, err
	}
	return &Toolset{a: a}, nil
}

// Specs returns the tools as a model is offered them (name, description, input schema), in
// the order of ToolsetConfig.Tools.
func (s *Toolset) Specs() []llm.Tool { return append([]llm.Tool(nil), s.a.specs...) }

// Tool returns the tool named name as configured (defaults filled in), and whether there is one.
func (s *Toolset) Tool(name string) (Tool, bool) {
	t := s.a.tools[name]
	if t == nil {
		return Tool{}, false
	}
	return t.Tool, true
}

// Call runs the model's call id of tool name with input (a JSON object) and returns its
// Outcome: Outcome.Content is what to send the model, Outcome.IsError whether it reports a
// failure. An unknown tool and arguments that do not match the schema are error results, as
// are the failures the package documentation's table answers with one. The error is not nil
// only when the run must stop: a *checkpoint.EscalateError (an irreversible call in doubt, a
// call that needs approval, an unavailable tool with EscalateUnavailable), or ctx's end.
//
// The call's idempotency key (Call.Key) is the enclosing checkpoint step's if ctx is one;
// otherwise it is derived from the tool and the call id, the same for every attempt of the call.
func (s *Toolset) Call(ctx context.Context, id, name string, input json.RawMessage) (Outcome, error) {
	return s.call(ctx, id, name, input, false)
}

// CallApproved is Call for a call a person has approved (after Call's escalation, through the
// framework's own way of asking): it runs without asking for the tool's Approval again, with the
// same idempotency key as the call Call refused.
func (s *Toolset) CallApproved(ctx context.Context, id, name string, input json.RawMessage) (Outcome, error) {
	return s.call(ctx, id, name, input, true)
}

func (s *Toolset) call(ctx context.Context, id, name string, input json.RawMessage, approved bool) (Outcome, error) {
	p := s.a.prepare(name, jsonInput(input))
	if !approved && p.problem == "" && p.t.Approval.needed(p.input) {
		o := Outcome{CallID: id, Tool: name, Effect: p.t.Effect.String(), Input: p.input, Key: callKey(ctx, name, id)}
		return o, checkpoint.Escalate(rebound.ReasonIrreversibleAction, approvalText(p, id, "", ""), nil)
	}
	return s.a.execute(ctx, id, "", p, p, decision{})
}

// callKey is a call's idempotency key: the checkpoint step's, or one derived from the call.
func callKey(ctx context.Context, name, id string) string {
	if k := checkpoint.IdempotencyKey(ctx); k != "" {
		return k
	}
	sum := sha256.Sum256([]byte("rebound/agent.Toolset\x00" + name + "\x00" + id))
	return hex.EncodeToString(sum[:16])
}
