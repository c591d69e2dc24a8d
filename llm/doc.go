// Package llm is Rebound's provider-neutral layer over language models: a small Model
// interface, and the wrappers that make a model production-safe.
//
//   - Model: Name ("anthropic/claude-haiku-4-5"), ContextWindow, Generate and Stream over a
//     Request (system text, messages, max tokens) returning a Response (text, stop reason,
//     usage, provenance). The adapters llm/anthropicllm and llm/openaillm implement it over the
//     official SDKs, with the SDKs' own retries turned off and every provider error translated
//     into Rebound's classes (docs/provider-errors.md §5.1).
//   - Resilient: pacing under the provider's rate limit (package ratelimit), a per-attempt
//     timeout (and, for streams, first-token and idle timeouts), a circuit breaker per model and
//     retries with a budget, composed by package pipeline in the order docs/design.md gives
//     ("The attempt pipeline"; see Resilient).
//   - Fallback: an ordered chain of models across providers, whose answer is marked: which model
//     answered, whether it is degraded, what failed before.
//   - Structured: a JSON answer decoded into a Go type and validated, re-asked on a soft failure;
//     with StructuredConfig.Tool the answer comes through a forced tool call.
//
// Wrapping an Anthropic client and an OpenAI client:
//
//	sonnet := anthropicllm.New(anthropic.NewClient(), "claude-sonnet-4-6")
//	gpt := openaillm.New(openai.NewClient(), "gpt-4o")
//	breakers, _ := breaker.NewSet(breaker.SetConfig{})
//	budget := new(retry.Budget)
//	cfg := llm.Config{Breakers: breakers, Retry: retry.Policy{Budget: budget}}
//	primary, err := llm.Resilient(sonnet, cfg) // err: a setting out of range, named
//	...
//	backup, err := llm.Resilient(gpt, cfg)
//	...
//	model := llm.Fallback(primary, backup)
//
//	resp, err := model.Generate(ctx, llm.Request{Messages: []llm.Message{llm.User("Hello")}})
//	// resp.Provenance.Model, resp.Provenance.Degraded say who answered
//
// # Tools
//
// A Request offers Tools (name, description, JSON Schema of the input) with a ToolChoice (auto,
// any, none, one named tool) and DisableParallelToolCalls; the answer's calls are tool-use blocks
// (Response.ToolCalls), its whole turn Response.Message, and the results go back as a user turn
// of tool-result blocks:
//
//	weather := llm.Tool{Name: "get_weather", Description: "The weather in a city.",
//		InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}
//	req := llm.Request{Messages: []llm.Message{llm.User("Weather in Paris?")}, Tools: []llm.Tool{weather}}
//	resp, err := model.Generate(ctx, req)
//	call := resp.ToolCalls()[0] // call.ID, call.Name, call.Input (a JSON object)
//	req.Messages = append(req.Messages, resp.Message(),
//		rebound.ToolResults(rebound.ToolResult(call.ID, "18°C, sunny", false)))
//	resp, err = model.Generate(ctx, req)
//
// The conversation is provider-neutral and is translated at each adapter's edge, per request,
// so a Fallback chain may cross providers in the middle of a tool conversation and come back.
// Call ids stay as the model that made them gave them (in the conversation and the journal);
// an id the receiving provider would refuse is sent under a deterministic replacement
// (MapCallID), the same in the call and its result. Parallel calls stay parallel. Blocks a
// provider cannot take (another provider's opaque blocks, such as Anthropic thinking) are left
// out of that provider's request only. A tool input cut short or not JSON is a ClassMalformed
// error, never a call. docs/tools.md lists what crossing providers loses. Temperature, TopP and
// Extra (fields merged into one provider's request body) cover the rest of a provider's
// parameters.
//
// Errors are classified: rebound.Classify(err) says whether it was a rate limit, an overload, a
// quota, a context overflow, a refusal. A stop at max_tokens is not an error: the Response says
// so (Truncated) and the caller may continue it.
//
// One retry layer: the adapters append option.WithMaxRetries(0) to every call, so the SDK never
// retries under Resilient's retries and attempts never multiply.
//
// Share state deliberately: one *breaker.Set, one *retry.Budget and one *ratelimit.Limiter per
// key are passed in through Config; Resilient creates its own when they are nil. There is no
// package-level registry.
package llm
