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
//   - Structured: a JSON answer decoded into a Go type and validated, re-asked on a soft failure.
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
