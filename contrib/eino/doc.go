// Package reboundeino puts Rebound under an Eino agent (github.com/cloudwego/eino): the
// framework's model calls and tool calls get Rebound's recovery while the agent, its graph and
// its tools stay as they are.
//
//   - NewModel wraps a Rebound llm.Model (Rebound's Anthropic and OpenAI adapters, with their
//     SDK retries off, in llm.Resilient and llm.Fallback) as Eino's model.ToolCallingChatModel:
//     every call Eino makes, Generate or Stream, is classified, retried by one layer, guarded by
//     a circuit breaker, paced under the provider's rate limit, bounded by the attempt and
//     stream timeouts, and falls back from one provider to another in the middle of a tool
//     conversation, the answer marked (Message.Extra's ExtraModel, ExtraDegraded,
//     ExtraFailures). Tool calls' ids are translated per provider by Rebound's adapters.
//   - ToolsConfig (or Middleware, Eino's tools-node hook) gives the agent's Eino tools the agent
//     loop's effect semantics (package agent): arguments checked against the tool's schema,
//     agent.ReadOnly and agent.Idempotent calls retried after a transient failure or a
//     timeout, an agent.Irreversible call in doubt never run again, one breaker per tool; and a
//     failure becomes an error result the model reads ("Error: ...") where Eino's tools node
//     fails the whole run on one tool error. An unknown tool is answered the same way.
//
// The one change to an existing ReAct agent is its model and its tools config:
//
//	primary, _ := llm.Resilient(anthropicllm.New(anthropic.NewClient(), "claude-sonnet-4-6"), llm.Config{})
//	backup, _ := llm.Resilient(openaillm.New(openai.NewClient(), "gpt-4o"), llm.Config{})
//	tools, _ := reboundeino.ToolsConfig(ctx, reboundeino.Tools{Tools: []tool.BaseTool{lookup, refund},
//		Effects: map[string]agent.Effect{"lookup_order": agent.ReadOnly, "refund_order": agent.Irreversible}})
//	ag, _ := react.NewAgent(ctx, &react.AgentConfig{ToolCallingModel: reboundeino.NewModel(llm.Fallback(primary, backup)), ToolsConfig: tools})
//
// # What stops a run
//
// A tool call's error ends Eino's run only where package agent would escalate: an irreversible
// call that failed in a way that leaves it in doubt (a timeout, a cut connection, an unknown
// error) is a *checkpoint.EscalateError (ambiguous_state) with the exact call, for a person,
// never a silent retry. Outside a checkpoint.Run nothing is journaled: a crash of the process
// forgets the calls (run the tools through agent.Agent when they must survive one). A model
// call's error ends the run after the retries and every fallback: a *rebound.GiveUpError or a
// classified *rebound.Error.
//
// # Streams
//
// ChatModel.Stream sends the text in chunks as it arrives and the tool calls, ResponseMeta and
// Extra in one last chunk; Eino's ReAct agent looks for tool calls in the first chunk only by
// default, so set react.AgentConfig.StreamToolCallChecker to StreamToolCallChecker. A stream
// that fails after sending chunks (and is retried, or falls back) cannot take them back:
// Config.OnRestart is told.
//
// # Tool results
//
// Eino's tool messages have no error flag: one whose content starts with "Error:" (what the
// tools node answers a failure with) is sent to the provider as a failed result (Anthropic's
// is_error); Config.IsErrorResult changes the rule.
//
// # Versions
//
// Tested with Eino v0.7.36. Eino's own go.mod asks for bytedance/sonic v1.14, which does not
// build on Go 1.26; this module requires sonic v1.15.5, which does.
package reboundeino
