package reboundeino

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/retry"
)

// Tools configures the tools node of an Eino agent (ToolsConfig). Tools is required.
type Tools struct {
	// Tools are the agent's Eino tools, as they are (each must be a tool.InvokableTool).
	Tools []tool.BaseTool
	// Effects says what each tool's calls do, by tool name: agent.ReadOnly and agent.Idempotent
	// calls are retried after a transient failure or a timeout; an agent.Irreversible call that
	// failed in a way that leaves it in doubt is never run again and stops the run with an
	// escalation (ambiguous_state). A tool not listed is agent.Irreversible (package agent's
	// default: a tool that declares nothing is taken for the most dangerous kind).
	Effects map[string]agent.Effect
	// Timeout bounds each attempt of a call (agent.Tool.Timeout). Zero: agent.DefaultToolTimeout.
	Timeout time.Duration
	// Retry is each tool's retry policy (agent.Tool.Retry). Zero: agent's default.
	Retry retry.Policy
	// Breakers is the set the tools' breakers come from ("tool/NAME"). Nil: a new Set with
	// breaker's defaults.
	Breakers *breaker.Set
	// Hook receives the tool_started, tool_completed and tool_failed events of every call.
	Hook rebound.Hook
}

// ToolsConfig returns the compose.ToolsNodeConfig of c (react.AgentConfig.ToolsConfig): c's
// tools, run through Middleware, with an unknown tool answered by an error result (Eino's
// default fails the run) naming the tools there are.
func ToolsConfig(ctx context.Context, c Tools) (compose.ToolsNodeConfig, error) {
	mw, ts, err := middleware(ctx, c)
	if err != nil {
		return compose.ToolsNodeConfig{}, err
	}
	return compose.ToolsNodeConfig{
		Tools:               c.Tools,
		ToolCallMiddlewares: []compose.ToolMiddleware{mw},
		UnknownToolsHandler: func(ctx context.Context, name, input string) (string, error) {
			o, err := ts.Call(ctx, "", name, json.RawMessage(input))
			return o.Content, err
		},
	}, nil
}

// Middleware returns the tools-node middleware (compose.ToolsNodeConfig.ToolCallMiddlewares)
// that gives c's tools the agent loop's semantics (package agent's failure table): a call's
// arguments are checked against the tool's schema, it is retried by its effect, guarded by its
// breaker and bounded by its timeout, and a failure becomes an error result the model sees
// ("Error: ..."), where Eino's tools node would fail the whole run. The call's error ends the
// run only when the agent would escalate: an irreversible call in doubt (a
// *checkpoint.EscalateError). Calls of tools c does not hold pass through untouched. Outside a
// checkpoint.Run nothing is journaled (see agent.Toolset).
func Middleware(ctx context.Context, c Tools) (compose.ToolMiddleware, error) {
	mw, _, err := middleware(ctx, c)
	return mw, err
}

// endpoint is the Eino endpoint of a call in flight, for the agent tool's handler.
type endpoint struct {
	next compose.InvokableToolEndpoint
	in   *compose.ToolInput
}

type endpointKey struct{}

func middleware(ctx context.Context, c Tools) (compose.ToolMiddleware, *agent.Toolset, error) {
	var ats []agent.Tool
	for _, bt := range c.Tools {
		info, err := bt.Info(ctx)
		if err != nil {
			return compose.ToolMiddleware{}, nil, fmt.Errorf("reboundeino: tool info: %w", err)
		}
		if _, ok := bt.(tool.InvokableTool); !ok {
			return compose.ToolMiddleware{}, nil, fmt.Errorf("reboundeino: tool %q is not a tool.InvokableTool", info.Name)
		}
		ts, err := toolsOf([]*schema.ToolInfo{info})
		if err != nil {
			return compose.ToolMiddleware{}, nil, err
		}
		effect, ok := c.Effects[info.Name]
		if !ok {
			effect = agent.Irreversible
		}
		ats = append(ats, agent.Tool{
			Name: info.Name, Description: info.Desc, Schema: ts[0].InputSchema, Effect: effect,
			Timeout: c.Timeout, Retry: c.Retry,
			Handler: agent.Handle(func(ctx context.Context, call agent.Call, _ json.RawMessage) (string, error) {
				ep, _ := ctx.Value(endpointKey{}).(*endpoint)
				if ep == nil {
					return "", rebound.Permanent(errors.New("reboundeino: tool called outside Eino's tools node"))
				}
				out, err := ep.next(ctx, ep.in)
				if err != nil {
					return "", err
				}
				if out == nil {
					return "", nil
				}
				return out.Result, nil
			}),
		})
	}
	for name := range c.Effects {
		if !hasTool(ats, name) {
			return compose.ToolMiddleware{}, nil, fmt.Errorf("reboundeino: Effects names %q, which is not one of the tools", name)
		}
	}
	ts, err := agent.NewToolset(agent.ToolsetConfig{Tools: ats, Breakers: c.Breakers, Hook: c.Hook})
	if err != nil {
		return compose.ToolMiddleware{}, nil, fmt.Errorf("reboundeino: %w", err)
	}
	mw := compose.ToolMiddleware{Invokable: func(next compose.InvokableToolEndpoint) compose.InvokableToolEndpoint {
		return func(ctx context.Context, in *compose.ToolInput) (*compose.ToolOutput, error) {
			if _, ok := ts.Tool(in.Name); !ok {
				return next(ctx, in)
			}
			ctx = context.WithValue(ctx, endpointKey{}, &endpoint{next: next, in: in})
			o, err := ts.Call(ctx, in.CallID, in.Name, json.RawMessage(in.Arguments))
			if err != nil {
				return nil, err
			}
			return &compose.ToolOutput{Result: o.Content}, nil
		}
	}}
	return mw, ts, nil
}

func hasTool(ts []agent.Tool, name string) bool {
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}
