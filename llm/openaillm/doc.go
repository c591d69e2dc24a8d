// Package openaillm adapts the official OpenAI Go SDK (github.com/openai/openai-go/v3, Chat
// Completions) to llm.Model.
//
// Wrap the client you already configure (key, base URL, HTTP client) and the model's ID:
//
//	client := openai.NewClient() // OPENAI_API_KEY from the environment
//	gpt := openaillm.New(client, "gpt-4o", openaillm.WithContextWindow(128_000))
//	model, err := llm.Resilient(gpt, llm.Config{})
//	resp, err := model.Generate(ctx, llm.Request{Messages: []llm.Message{llm.User("Hello")}})
//
// One retry layer: every call appends option.WithMaxRetries(0), so the SDK never retries under
// Rebound's policy (by default it retries every 429, insufficient_quota included).
//
// Every failure comes back classified (Translate; docs/provider-errors.md §5.1): the error code
// decides first (insufficient_quota and the spend-limit codes are quota, context_length_exceeded
// is context_overflow, server_is_overloaded is overloaded), then a specific error type, then
// the status (OpenAI sends invalid_request_error for every 4xx); x-should-retry is kept as the
// server's verdict, and the server's delay (retry-after-ms, retry-after, x-ratelimit-reset-*) is
// the error's RetryAfter. finish_reason content_filter and a refusal are content_policy. In a
// stream, an error frame is classified by its error object, and a stream that ends without
// "data: [DONE]" or without a finish_reason is malformed (truncated). finish_reason length is a
// Response whose StopReason is llm.StopMaxTokens.
//
// # Tools
//
// Request.Tools become function tools, ToolChoice tool_choice ("auto"; any is "required"; none;
// a named tool {type: function, function: {name}}), DisableParallelToolCalls
// parallel_tool_calls: false; Temperature, TopP, then Request.Extra["openai"]'s fields, merged
// last. An answer's tool_calls are rebound.ToolUse blocks (streamed arguments accumulated by
// index). A user turn of tool results is sent as one "tool" message per call id, in order, then a
// user message with the rest of the turn (an image inside a tool result goes there: a tool
// message takes text only).
//
// Chat Completions has no error flag: a result with IsError is sent as a tool message whose
// text starts with ErrorPrefix ("Error: "), unless it already does, so the model reads it as a
// failure. A call id longer than MaxCallIDLen (40, another provider's) is sent as CallIDPrefix +
// 24 hex digits of its SHA-256, the same in the call and its result. Opaque blocks (another
// provider's thinking) are left out.
//
//	req := llm.Request{Messages: []llm.Message{llm.User("Weather in Paris?")},
//		Tools: []llm.Tool{{Name: "get_weather", InputSchema: json.RawMessage(`{"type":"object"}`)}}}
//	resp, _ := model.Generate(ctx, req) // resp.ToolCalls()[0]: ID "call_…", Name, Input
//	req.Messages = append(req.Messages, resp.Message(),
//		rebound.ToolResults(rebound.ToolResult(resp.ToolCalls()[0].ID, "service down", true))) // "Error: service down"
//
// Arguments that are not a JSON object (a stream cut inside them, or a model that wrote
// something else) and finish_reason tool_calls without any call are ClassMalformed errors.
package openaillm
