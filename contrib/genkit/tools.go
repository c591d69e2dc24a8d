package reboundgenkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"

	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
)

// Keys of the metadata of an interrupt that a Toolset's escalation becomes (ai.Part.Metadata
// ["interrupt"] of the tool request, see ModelResponse.Interrupts).
const (
	// InterruptReason is the escalation's reason ("irreversible_action": the call needs
	// approval; "ambiguous_state": an irreversible call's outcome is in doubt).
	InterruptReason = "rebound.reason"
	// InterruptContext is what a person is shown: the tool, its exact arguments, the rule.
	InterruptContext = "rebound.context"
	// InterruptKey is the call's idempotency key.
	InterruptKey = "rebound.key"
	// InterruptCall is the call's id in the Toolset: Approve carries it into the restart, so
	// that the approved call runs with the same idempotency key.
	InterruptCall = "rebound.call"
	// Approved is the resumed-metadata key that approves an interrupted call (Genkit's own
	// approval middleware uses the same key): Approve builds the restart.
	Approved = "toolApproved"
)

// AgentTool returns an agent.Tool that runs the Genkit tool t, with effect: what its calls do to
// the world (agent.ReadOnly and agent.Idempotent calls may run again after a failure; an
// agent.Irreversible one never runs again when its outcome is in doubt). Its name, description
// and input schema are t's. Set the other fields of agent.Tool (Timeout, Retry, Approval,
// Fallback, ...) on the result before building the Toolset. Create t with ai.NewTool, not
// genkit.DefineTool: Genkit runs the tool registered under a name, and Tools refuses a name
// that g already has.
//
// t's error is the call's failure, classified by rebound.Classify: mark one that a retry may
// mend with rebound.Transient, or return a *rebound.Error, for a read-only tool to be retried.
func AgentTool(t ai.Tool, effect agent.Effect) (agent.Tool, error) {
	def := t.Definition()
	var schema json.RawMessage
	if def.InputSchema != nil {
		b, err := json.Marshal(def.InputSchema)
		if err != nil {
			return agent.Tool{}, fmt.Errorf("reboundgenkit: tool %q: input schema: %w", def.Name, err)
		}
		schema = b
	} else {
		schema = json.RawMessage(`{"type":"object"}`)
	}
	return agent.Tool{
		Name: def.Name, Description: def.Description, Effect: effect, Schema: schema,
		Handler: agent.Handle(func(ctx context.Context, _ agent.Call, in json.RawMessage) (any, error) {
			var v any
			if err := json.Unmarshal(in, &v); err != nil {
				return nil, err
			}
			return t.RunRaw(ctx, v)
		}),
	}, nil
}

// Tools returns the tools of ts as Genkit tools, for ai.WithTools: each call of Genkit's
// generate loop runs through ts (agent.Toolset.Call), its failures retried by the tool's
// effect, its breaker and timeout applied. A failure the agent loop answers with an error
// result comes back as the tool's output, the string "Error: ..." (the model sees it and the
// generate goes on) instead of an error that would end the whole generate (Genkit's default).
// A call the agent loop would escalate (one that needs approval, an irreversible call in doubt)
// becomes a Genkit interrupt whose metadata holds InterruptReason, InterruptContext and
// InterruptKey: the generate returns with FinishReason "interrupted", and the caller answers
// the call (tool.Respond, ai.WithToolResponses) or approves it (ai.WithToolRestarts(Approve(part)),
// which runs it once, with the same idempotency key).
//
// Genkit checks a call's arguments against the tool's schema before the tool runs, and ends
// the generate on a mismatch: the agent loop's own check (an error result) is not reached.
// Genkit gives a tool no call id: each call's id, and so its idempotency key (agent.Call.Key),
// is the tool's name and a sequence number in the process.
//
// Tools returns an error when g already has a tool of one of the names: Genkit would run that
// one instead.
func Tools(g *genkit.Genkit, ts *agent.Toolset) ([]ai.ToolRef, error) {
	var out []ai.ToolRef
	for _, s := range ts.Specs() {
		if genkit.LookupTool(g, s.Name) != nil {
			return nil, fmt.Errorf("reboundgenkit: genkit already has a tool %q, which it would run instead: create it with ai.NewTool", s.Name)
		}
		var schema map[string]any
		if len(s.InputSchema) > 0 {
			if err := json.Unmarshal(s.InputSchema, &schema); err != nil {
				return nil, fmt.Errorf("reboundgenkit: tool %q: input schema: %w", s.Name, err)
			}
		}
		name := s.Name
		var seq atomic.Uint64
		fn := func(tc *ai.ToolContext, input any) (any, error) {
			in, err := json.Marshal(input)
			if err != nil || input == nil {
				in = json.RawMessage(`{}`)
			}
			id := fmt.Sprintf("%s-%d", name, seq.Add(1))
			call := ts.Call
			if approved, _ := tc.Resumed[Approved].(bool); approved {
				call = ts.CallApproved
				if prev, ok := tc.Resumed[InterruptCall].(string); ok && prev != "" {
					id = prev
				}
			}
			o, err := call(tc, id, name, in)
			var esc *checkpoint.EscalateError
			if errors.As(err, &esc) {
				return nil, tc.Interrupt(&ai.InterruptOptions{Metadata: map[string]any{
					InterruptReason: string(esc.Reason), InterruptContext: esc.Context, InterruptKey: o.Key, InterruptCall: id,
				}})
			}
			if err != nil {
				return nil, err
			}
			return o.Content, nil
		}
		out = append(out, ai.NewTool(name, s.Description, fn, ai.WithInputSchema(schema)))
	}
	return out, nil
}

// Approve returns the restart of an interrupted tool request of Tools (a part of
// ModelResponse.Interrupts) that approves it: pass it to ai.WithToolRestarts, with the
// conversation (ai.WithMessages(resp.History()...)), and the call runs once, without asking for
// approval again, under the idempotency key the interrupt named. Nil if p is not a tool request.
func Approve(p *ai.Part) *ai.Part {
	if p == nil || !p.IsToolRequest() {
		return nil
	}
	resumed := map[string]any{Approved: true}
	if in, ok := p.Metadata["interrupt"].(map[string]any); ok {
		if id, ok := in[InterruptCall].(string); ok {
			resumed[InterruptCall] = id
		}
	}
	meta := map[string]any{}
	for k, v := range p.Metadata {
		if k != "interrupt" {
			meta[k] = v
		}
	}
	meta["resumed"] = resumed
	part := ai.NewToolRequestPart(&ai.ToolRequest{Name: p.ToolRequest.Name, Ref: p.ToolRequest.Ref, Input: p.ToolRequest.Input})
	part.Metadata = meta
	return part
}
