package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/retry"
)

type cityIn struct {
	City string `json:"city"`
}

// A Toolset answers calls as Agent.Run does, outside a run: a read-only tool that fails once is
// retried inside the call; an irreversible one that times out is in doubt and escalates
// without running again; unknown tools, invalid arguments and refused calls are error results;
// a call that needs approval escalates before it runs.
func TestToolsetCall(t *testing.T) {
	quick := retry.Policy{Base: time.Millisecond, Cap: time.Millisecond}
	var lookups, sends, keys []string
	lookup := agent.Tool{
		Name: "lookup", Description: "Look a city up.", Effect: agent.ReadOnly, Retry: quick,
		Handler: agent.Handle(func(_ context.Context, c agent.Call, in cityIn) (string, error) {
			lookups = append(lookups, in.City)
			keys = append(keys, c.Key)
			if len(lookups) == 1 {
				return "", rebound.Transient(errors.New("index busy"))
			}
			return "sunny in " + in.City, nil
		}),
	}
	send := agent.Tool{
		Name: "send", Description: "Send a postcard.", Effect: agent.Irreversible, Retry: quick,
		Handler: agent.Handle(func(_ context.Context, _ agent.Call, in cityIn) (string, error) {
			sends = append(sends, in.City)
			if in.City == "Oslo" {
				return "", &rebound.Error{Class: rebound.ClassInvalid, Message: "no post office"}
			}
			return "", rebound.Transient(errors.New("connection reset"))
		}),
	}
	pay := agent.Tool{
		Name: "pay", Description: "Pay.", Approval: agent.Always(),
		Handler: agent.Handle(func(context.Context, agent.Call, cityIn) (string, error) {
			t.Error("pay ran without approval")
			return "", nil
		}),
	}
	ts, err := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{lookup, send, pay}})
	if err != nil {
		t.Fatal(err)
	}
	if specs := ts.Specs(); len(specs) != 3 || specs[0].Name != "lookup" || !strings.Contains(string(specs[0].InputSchema), "city") {
		t.Fatalf("specs %+v", specs)
	}
	ctx := context.Background()
	in := json.RawMessage(`{"city":"Paris"}`)

	o, err := ts.Call(ctx, "c1", "lookup", in)
	if err != nil || o.IsError || o.Content != "sunny in Paris" || len(lookups) != 2 || keys[0] != keys[1] || keys[0] == "" {
		t.Errorf("lookup: %+v, %v; ran %v with keys %v", o, err, lookups, keys)
	}

	o, err = ts.Call(ctx, "c2", "send", in)
	var esc *checkpoint.EscalateError
	if !errors.As(err, &esc) || esc.Reason != rebound.ReasonAmbiguousState || len(sends) != 1 {
		t.Errorf("send in doubt: %+v, %v; ran %d times", o, err, len(sends))
	}
	o, err = ts.Call(ctx, "c3", "send", json.RawMessage(`{"city":"Oslo"}`))
	if err != nil || !o.IsError || o.Class != rebound.ClassInvalid.String() || len(sends) != 2 {
		t.Errorf("send refused: %+v, %v", o, err)
	}

	o, err = ts.Call(ctx, "c4", "nope", in)
	if err != nil || !o.IsError || o.Class != agent.ClassUnknownTool || !strings.Contains(o.Content, "lookup, send, pay") {
		t.Errorf("unknown tool: %+v, %v", o, err)
	}
	o, err = ts.Call(ctx, "c5", "lookup", json.RawMessage(`{"town":"Paris"}`))
	if err != nil || !o.IsError || o.Class != agent.ClassInvalidInput || len(lookups) != 2 {
		t.Errorf("invalid input: %+v, %v", o, err)
	}
	o, err = ts.Call(ctx, "c6", "pay", in)
	if !errors.As(err, &esc) || esc.Reason != rebound.ReasonIrreversibleAction || o.Executed {
		t.Errorf("approval: %+v, %v", o, err)
	}
	paid := 0
	pay.Handler = agent.Handle(func(context.Context, agent.Call, cityIn) (string, error) { paid++; return "paid", nil })
	if ts, err = agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{pay}}); err != nil {
		t.Fatal(err)
	}
	if o, err = ts.CallApproved(ctx, "c6", "pay", in); err != nil || o.Content != "paid" || paid != 1 {
		t.Errorf("approved: %+v, %v", o, err)
	}
	ts, _ = agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{lookup, send, pay}})
	if tl, ok := ts.Tool("send"); !ok || tl.Effect != agent.Irreversible || tl.Timeout != agent.DefaultToolTimeout {
		t.Errorf("Tool(send) = %+v, %v", tl, ok)
	}
}
