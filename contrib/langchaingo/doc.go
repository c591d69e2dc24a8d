// Package reboundlangchaingo puts Rebound under a langchaingo agent: the framework's model calls
// and tool calls get Rebound's recovery while the agent, its prompts and its executor stay as
// they are.
//
//   - New wraps a Rebound llm.Model (Rebound's Anthropic and OpenAI adapters, with their SDK
//     retries off, in llm.Resilient and llm.Fallback) as a langchaingo llms.Model: every call
//     the framework makes is classified, retried by one layer, guarded by a circuit breaker,
//     paced under the provider's rate limit, bounded by attempt and stream timeouts, and falls
//     back from one provider to another in the middle of a tool conversation, the answer marked
//     (GenerationInfo[InfoModel], [InfoDegraded], Provenance).
//   - Tools turns an agent.Toolset into langchaingo tools.Tool values: each call gets the agent
//     loop's effect semantics (agent.ReadOnly and agent.Idempotent calls retried, an
//     agent.Irreversible call in doubt never run again), and a failure becomes an "Error: ..."
//     observation the model can act on instead of an error that ends the executor's run (the
//     langchaingo executor returns on the first tool error). AgentTool adapts an existing
//     langchaingo tool, given its effect.
//
// The one change to an existing agent is its model and its tools:
//
//	primary, _ := llm.Resilient(anthropicllm.New(anthropic.NewClient(), "claude-sonnet-4-6"), cfg)
//	backup, _ := llm.Resilient(openaillm.New(openai.NewClient(), "gpt-4o"), cfg)
//	ts, _ := agent.NewToolset(agent.ToolsetConfig{Tools: []agent.Tool{
//		reboundlangchaingo.AgentTool(lookup, agent.ReadOnly),
//		reboundlangchaingo.AgentTool(refund, agent.Irreversible),
//	}})
//	a := agents.NewOpenAIFunctionsAgent(reboundlangchaingo.New(llm.Fallback(primary, backup)), reboundlangchaingo.Tools(ts))
//	out, err := agents.NewExecutor(a).Call(ctx, map[string]any{"input": question})
//
// langchaingo's ToolCallResponse carries no error flag: a tool result whose content starts with
// "Error:" is sent as a failed result (Config.IsErrorResult changes the rule). Nothing is
// journaled: for a run that must survive a crash, use package agent's own loop inside a
// checkpoint.Run.
package reboundlangchaingo
