package reboundeino_test

import (
	"context"
	"fmt"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/flow/agent/react"
	"github.com/cloudwego/eino/schema"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound/agent"
	reboundeino "github.com/rebound-go/rebound/contrib/eino"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"
)

type order struct {
	OrderID string `json:"order_id"`
}

// An Eino ReAct agent whose model and tools node are Rebound's: Anthropic first, OpenAI when
// Anthropic is overloaded. Here both are fakellm servers, and Anthropic is overloaded after the
// first turn.
func Example() {
	ant, _ := fakellm.New("tool-use name=lookup_order times=1\nerror 529", fakellm.Options{})
	oai, _ := fakellm.New("", fakellm.Options{})
	antSrv, oaiSrv := fakellm.Serve(ant), fakellm.Serve(oai)
	defer antSrv.Close()
	defer oaiSrv.Close()
	anthropicClient := anthropic.NewClient(aoption.WithAPIKey("sk-ant-example"), aoption.WithBaseURL(antSrv.AnthropicBaseURL))
	openaiClient := openai.NewClient(ooption.WithAPIKey("sk-example"), ooption.WithBaseURL(oaiSrv.OpenAIBaseURL))
	ctx := context.Background()

	// The agent's existing Eino tool.
	lookup, err := utils.InferTool("lookup_order", "Look an order up by its id.", func(ctx context.Context, in order) (string, error) {
		return "order 1042: a kettle, delivered broken", nil
	})
	if err != nil {
		panic(err)
	}

	// Rebound's models: each retried, paced and guarded on its own; the chain falls back.
	cfg := llm.Config{Retry: retry.Policy{MaxAttempts: 2, Base: 10 * time.Millisecond}}
	primary, err := llm.Resilient(anthropicllm.New(anthropicClient, "claude-haiku-4-5"), cfg)
	if err != nil {
		panic(err)
	}
	backup, err := llm.Resilient(openaillm.New(openaiClient, "gpt-4o"), cfg)
	if err != nil {
		panic(err)
	}
	tools, err := reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: []tool.BaseTool{lookup},
		Effects: map[string]agent.Effect{"lookup_order": agent.ReadOnly}})
	if err != nil {
		panic(err)
	}
	ag, err := react.NewAgent(ctx, &react.AgentConfig{ToolCallingModel: reboundeino.NewModel(llm.Fallback(primary, backup)), ToolsConfig: tools})
	if err != nil {
		panic(err)
	}

	opt, future := react.WithMessageFuture()
	if _, err := ag.Generate(ctx, []*schema.Message{schema.UserMessage("Where is order 1042?")}, opt); err != nil {
		panic(err)
	}
	for it := future.GetMessages(); ; {
		m, ok, err := it.Next()
		if err != nil || !ok {
			break
		}
		switch m.Role {
		case schema.Assistant:
			fmt.Printf("answered by %s (degraded: %v)\n", m.Extra[reboundeino.ExtraModel], m.Extra[reboundeino.ExtraDegraded])
		case schema.Tool:
			fmt.Printf("%s: %s\n", m.ToolName, m.Content)
		}
	}
	// Output:
	// answered by anthropic/claude-haiku-4-5 (degraded: false)
	// lookup_order: order 1042: a kettle, delivered broken
	// answered by openai/gpt-4o (degraded: true)
}
