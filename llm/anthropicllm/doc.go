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
package anthropicllm
