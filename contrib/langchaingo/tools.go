package reboundlangchaingo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tmc/langchaingo/tools"

	"github.com/rebound-go/rebound/agent"
)

// stringSchema is the input schema of a tool made by AgentTool: langchaingo tools take a string.
var stringSchema = json.RawMessage(`{"type":"object","properties":{"input":{"type":"string","description":"The tool's input."}},"required":["input"],"additionalProperties":false}`)

type stringInput struct {
	Input string `json:"input"`
}

// AgentTool returns an agent.Tool that runs the langchaingo tool t, with effect: what its calls
// do to the world (agent.ReadOnly and agent.Idempotent calls may run again after a failure; an
// agent.Irreversible one never runs again when its outcome is in doubt). Its name is t's, with
// every character other than a letter, a digit, '_' or '-' replaced by '_'; its input is an
// object {"input": string}, the string t is called with. Set the other fields of agent.Tool
// (Timeout, Retry, Approval, Fallback, ...) on the result before building the Toolset.
//
// t's error is the call's failure, classified by rebound.Classify: mark one that a retry may
// mend with rebound.Transient, or return a *rebound.Error, for a read-only tool to be retried.
func AgentTool(t tools.Tool, effect agent.Effect) agent.Tool {
	return agent.Tool{
		Name: toolName(t.Name()), Description: t.Description(), Effect: effect, Schema: stringSchema,
		Handler: agent.Handle(func(ctx context.Context, _ agent.Call, in stringInput) (string, error) {
			return t.Call(ctx, in.Input)
		}),
	}
}

func toolName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() > 64 {
		return b.String()[:64]
	}
	return b.String()
}

// Tools returns the tools of ts as langchaingo tools, for an agent and its executor. A call
// runs through ts (agent.Toolset.Call): its arguments checked against the tool's schema, its
// failures retried by its effect, its breaker and timeout applied. A failure the agent loop
// answers with an error result comes back as the tool's output, "Error: ..." (the model sees
// it and the run goes on), instead of an error that would end the executor's run; the error
// is returned only when the run must stop (an irreversible call in doubt, a call that needs
// approval: a *checkpoint.EscalateError), or when ctx ends.
//
// The input the executor passes is the tool's JSON object when it is one; for a tool of
// AgentTool, or any string that is not a JSON object, it is {"input": the string}.
// langchaingo does not pass the model's call id to a tool: each call's id (and so its
// idempotency key, agent.Call.Key) is the tool's name and a sequence number in the process.
func Tools(ts *agent.Toolset) []tools.Tool {
	specs := ts.Specs()
	out := make([]tools.Tool, len(specs))
	for i, s := range specs {
		out[i] = &tool{ts: ts, name: s.Name, desc: s.Description, wrap: bytes.Equal(s.InputSchema, stringSchema)}
	}
	return out
}

type tool struct {
	ts   *agent.Toolset
	name string
	desc string
	wrap bool // the tool takes {"input": string}
	seq  atomic.Uint64
}

func (t *tool) Name() string        { return t.name }
func (t *tool) Description() string { return t.desc }

func (t *tool) Call(ctx context.Context, input string) (string, error) {
	id := fmt.Sprintf("%s-%d", t.name, t.seq.Add(1))
	o, err := t.ts.Call(ctx, id, t.name, t.input(input))
	if err != nil {
		return "", err
	}
	return o.Content, nil
}

func (t *tool) input(s string) json.RawMessage {
	if !t.wrap {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &obj) == nil && obj != nil {
			return json.RawMessage(s)
		}
	}
	b, _ := json.Marshal(stringInput{Input: s})
	return b
}
