package reboundgenkit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound/agent"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"

	reboundgenkit "github.com/rebound-go/rebound/contrib/genkit"
)

type order struct {
	OrderID string `json:"order_id"`
}

// A Genkit generate with a tool, whose model is Rebound's: gpt-4o first, gpt-4o-mini (another
// key and server) when gpt-4o is overloaded. Here both are fakellm servers, and the primary is
// overloaded after the first turn.
func Example() {
	first, _ := fakellm.New("tool-use name=lookup_order times=1\nerror 529", fakellm.Options{})
	second, _ := fakellm.New("", fakellm.Options{})
	firstSrv, secondSrv := fakellm.Serve(first), fakellm.Serve(second)
	defer firstSrv.Close()
	defer secondSrv.Close()
	primaryClient := openai.NewClient(ooption.WithAPIKey("sk-primary"), ooption.WithBaseURL(firstSrv.OpenAIBaseURL))
	backupClient := openai.NewClient(ooption.WithAPIKey("sk-backup"), ooption.WithBaseURL(secondSrv.OpenAIBaseURL))
	ctx := context.Background()
	g := genkit.Init(ctx)
	lookup := ai.NewTool("lookup_order", "Look an order up by its number.", func(_ *ai.ToolContext, in order) (string, error) {
		return "order " + in.OrderID + ": a kettle, delivered broken", nil
	})

	cfg := llm.Config{Retry: retry.Policy{MaxAttempts: 2, Base: 10 * time.Millisecond}}
	primary, err := llm.Resilient(openaillm.New(primaryClient, "gpt-4o"), cfg)
	if err != nil {
		panic(err)
	}
	backup, err := llm.Resilient(openaillm.New(backupClient, "gpt-4o-mini"), cfg)
	if err != nil {
		panic(err)
	}
	lookupTool, err := reboundgenkit.AgentTool(lookup, agent.ReadOnly)
	if err != nil {
		panic(err)
	}
	ts, err := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{lookupTool}})
	if err != nil {
		panic(err)
	}
	tools, err := reboundgenkit.Tools(g, ts)
	if err != nil {
		panic(err)
	}

	model := reboundgenkit.DefineModel(g, "rebound/support", llm.Fallback(primary, backup), reboundgenkit.Config{})
	resp, err := genkit.Generate(ctx, g, ai.WithModel(model), ai.WithTools(tools...), ai.WithPrompt("Where is order 1042?"))
	if err != nil {
		panic(err)
	}
	for _, m := range resp.History() {
		if name, degraded, ok := reboundgenkit.AnsweredBy(m); ok {
			fmt.Printf("answered by %s (degraded: %v)\n", name, degraded)
		}
	}
	// Output:
	// answered by openai/gpt-4o (degraded: false)
	// answered by openai/gpt-4o-mini (degraded: true)
}
