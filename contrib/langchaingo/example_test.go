package reboundlangchaingo_test

import (
	"context"
	"fmt"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"

	reboundlangchaingo "github.com/rebound-go/rebound/contrib/langchaingo"
)

// lookupOrder is an existing langchaingo tool.
type lookupOrder struct{}

func (lookupOrder) Name() string        { return "lookup_order" }
func (lookupOrder) Description() string { return "Look an order up by its number." }
func (lookupOrder) Call(context.Context, string) (string, error) {
	return "order 1042: a kettle, delivered broken", nil
}

// A langchaingo agent whose model is Rebound's: Anthropic first, OpenAI when Anthropic is
// overloaded. Here both are fakellm servers, and Anthropic is overloaded after the first turn.
func Example() {
	ant, _ := fakellm.New("tool-use name=lookup_order times=1\nerror 529", fakellm.Options{})
	oai, _ := fakellm.New("", fakellm.Options{})
	antSrv, oaiSrv := fakellm.Serve(ant), fakellm.Serve(oai)
	defer antSrv.Close()
	defer oaiSrv.Close()
	anthropicClient := anthropic.NewClient(aoption.WithAPIKey("sk-ant-example"), aoption.WithBaseURL(antSrv.AnthropicBaseURL))
	openaiClient := openai.NewClient(ooption.WithAPIKey("sk-example"), ooption.WithBaseURL(oaiSrv.OpenAIBaseURL))
	var lookup tools.Tool = lookupOrder{}
	ctx := context.Background()

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
	ts, err := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{reboundlangchaingo.AgentTool(lookup, agent.ReadOnly)}})
	if err != nil {
		panic(err)
	}

	model := reboundlangchaingo.NewWith(llm.Fallback(primary, backup), reboundlangchaingo.Config{CallbacksHandler: whoAnswered{}})
	executor := agents.NewExecutor(agents.NewOpenAIFunctionsAgent(model, reboundlangchaingo.Tools(ts)), agents.WithReturnIntermediateSteps())
	out, err := executor.Call(ctx, map[string]any{"input": "Where is order 1042?"})
	if err != nil {
		panic(err)
	}
	for _, s := range out["intermediateSteps"].([]schema.AgentStep) {
		fmt.Printf("%s: %s\n", s.Action.Tool, s.Observation)
	}
	// Output:
	// answered by anthropic/claude-haiku-4-5 (degraded: false)
	// answered by openai/gpt-4o (degraded: true)
	// lookup_order: order 1042: a kettle, delivered broken
}

// whoAnswered prints which model answered each turn.
type whoAnswered struct{ callbacks.SimpleHandler }

func (whoAnswered) HandleLLMGenerateContentEnd(_ context.Context, resp *llms.ContentResponse) {
	p, _ := reboundlangchaingo.Provenance(resp)
	fmt.Printf("answered by %s (degraded: %v)\n", p.Model, p.Degraded)
}
