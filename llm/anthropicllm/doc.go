// Package anthropicllm adapts the official Anthropic Go SDK
// (github.com/anthropics/anthropic-sdk-go/v2) to llm.Model.
//
// Wrap the client you already configure (key, base URL, HTTP client) and the model's ID:
//
//	client := anthropic.NewClient() // ANTHROPIC_API_KEY from the environment
//	sonnet := anthropicllm.New(client, "claude-sonnet-4-6")
//	model, err := llm.Resilient(sonnet, llm.Config{})
//	resp, err := model.Generate(ctx, llm.Request{Messages: []llm.Message{llm.User("Hello")}})
//
// One retry layer: every call appends option.WithMaxRetries(0), so the SDK never retries under
// Rebound's policy (its default of 2 retries would otherwise multiply every attempt by three,
// retry spend-limit 429s, and sleep through any retry-after without a cap).
//
// Every failure comes back classified (Translate; docs/provider-errors.md §5.1): the error type
// and error_code decide before the status (a 429 with enforced_spend_limit_reached is quota, not
// rate_limited; a 400 "prompt is too long" is context_overflow), x-should-retry is kept as the
// server's verdict, and the server's delay is the error's RetryAfter. Success-shaped failures
// are errors too: stop_reason refusal is content_policy, model_context_window_exceeded is
// context_overflow. In a stream, an error event is classified by its type (an overloaded_error
// at HTTP 200 is overloaded), a cut connection is transient, and a stream that ends without
// message_stop is malformed (truncated), whatever it delivered. A max_tokens stop is a Response
// whose StopReason says so (llm.StopMaxTokens).
//
// # Tools
//
// Request.Tools become tools (input_schema sent as given), ToolChoice tool_choice (auto, any,
// none, {type: tool, name}), DisableParallelToolCalls disable_parallel_tool_use. An answer's
// tool_use blocks are rebound.ToolUse blocks (streamed input_json_delta accumulated per block);
// its thinking, redacted_thinking and server-tool blocks are rebound.Opaque("anthropic", raw)
// blocks, kept verbatim with their signatures and sent back byte for byte. Tool results go out
// grouped in one user turn, first, with is_error; consecutive messages of one role become one
// turn. A tool id that does not match ^[a-zA-Z0-9_-]+$ (another provider's) is sent as
// CallIDPrefix + 24 hex digits of its SHA-256, the same in the call and its result; other
// providers' opaque blocks are left out. temperature and top_p are set with option.WithJSONSet
// (this SDK version has no field for them), then Request.Extra["anthropic"]'s fields, last.
//
//	req := llm.Request{Messages: []llm.Message{llm.User("Weather in Paris?")},
//		Tools: []llm.Tool{{Name: "get_weather", InputSchema: json.RawMessage(`{"type":"object"}`)}}}
//	resp, _ := model.Generate(ctx, req) // resp.ToolCalls()[0]: ID "toolu_…", Name, Input
//	req.Messages = append(req.Messages, resp.Message(),
//		rebound.ToolResults(rebound.ToolResult(resp.ToolCalls()[0].ID, "18°C", false)))
//
// A stream that ends inside a tool input, and an input that is not a JSON object, are
// ClassMalformed errors (the SDK's accumulator would silently turn such an input into {}).
package anthropicllm
