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
package openaillm
