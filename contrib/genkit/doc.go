// Package reboundgenkit puts Rebound under Genkit's generate loop: the framework's model calls
// and tool calls get Rebound's recovery while the flows, prompts and tools stay as they are.
//
//   - DefineModel registers a Rebound llm.Model (Rebound's adapters, with their SDK retries
//     off, in llm.Resilient and llm.Fallback) as a Genkit model: every model
//     call of generate is classified, retried by one layer, guarded by a circuit breaker, paced
//     under the provider's rate limit, bounded by attempt and stream timeouts, and falls back
//     from one provider to another in the middle of a tool conversation, each model message
//     marked (Metadata MetaModel, MetaDegraded, MetaFailures; AnsweredBy).
//   - Tools turns an agent.Toolset into Genkit tools: each call gets the agent loop's effect
//     semantics (agent.ReadOnly and agent.Idempotent calls retried, an agent.Irreversible call
//     in doubt never run again), and a failure becomes an "Error: ..." output the model can act
//     on, instead of an error that ends the whole generate (Genkit's default); a call that needs
//     a person becomes a Genkit interrupt. AgentTool adapts an existing Genkit tool, given its
//     effect.
//
// The one change to an existing flow is its model and its tools:
//
//	primary, _ := llm.Resilient(openaillm.New(openai.NewClient(), "gpt-4o"), cfg)
//	backup, _ := llm.Resilient(openaillm.New(azureClient, "gpt-4o"), cfg) // another key or endpoint
//	model := reboundgenkit.DefineModel(g, "rebound/support", llm.Fallback(primary, backup), reboundgenkit.Config{})
//	lookupTool, _ := reboundgenkit.AgentTool(lookup, agent.ReadOnly) // lookup made with ai.NewTool
//	ts, _ := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{lookupTool}})
//	tools, _ := reboundgenkit.Tools(g, ts)
//	resp, err := genkit.Generate(ctx, g, ai.WithModel(model), ai.WithTools(tools...), ai.WithPrompt(question))
//
// Rebound's Anthropic adapter (llm/anthropicllm) cannot be linked into a program with Genkit
// v1.4.0: anthropic-sdk-go/v2 needs github.com/invopop/jsonschema v0.14.0, whose ordered maps
// are another package's than those of v0.13.0, which Genkit's prompt library
// (github.com/google/dotprompt/go) is written against; this module's go.mod replaces
// jsonschema with v0.13.0 so that Genkit builds, and so must the go.mod of a program that uses
// it. Until dotprompt moves to v0.14, the fallback chain under Genkit is across OpenAI models,
// keys or OpenAI-compatible endpoints.
//
// Genkit's ToolResponse carries no error flag: a tool output that is a string starting with
// "Error:" is sent as a failed result (Config.IsErrorResult changes the rule). Nothing is
// journaled: for a run that must survive a crash, use package agent's own loop inside a
// checkpoint.Run.
package reboundgenkit
