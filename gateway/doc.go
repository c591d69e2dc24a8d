// Package gateway is Rebound's recovery as an HTTP gateway that speaks the providers' own
// APIs: POST /v1/messages (Anthropic Messages, streamed and not, and count_tokens) and POST
// /v1/chat/completions (OpenAI Chat Completions, streamed and not). An agent written in any
// language gets the recovery by changing its SDK's base URL (ANTHROPIC_BASE_URL,
// OPENAI_BASE_URL) and key; `rebound gateway --config FILE` serves it.
//
//	cfg, err := gateway.Load("gateway.yaml") // errors name the file and the field
//	if err != nil {
//		return err
//	}
//	gw, err := gateway.New(cfg, gateway.Options{Logger: logger})
//	if err != nil {
//		return err // an upstream key's variable unset, a client key file unreadable
//	}
//	defer gw.Close()
//	if err := gw.CheckListen(addr); err != nil {
//		return err // off loopback without client keys
//	}
//	http.ListenAndServe(addr, gw)
//
// # What a request goes through
//
// A request's model names a route: a chain of targets (an upstream and a model) tried in
// order. Each target is called through package pipeline, the one attempt pipeline every
// Rebound call goes through: the retry policy (Policy.Attempts, honouring retry-after up to
// Policy.MaxRetryAfter, under one retry budget), the breaker of the upstream model, pacing
// under the upstream's limiter (learnt from its rate-limit headers), with the gateway's own
// first-token, idle and response timeouts. A failure is classified from the status, the
// headers and the provider's error type and code (the tables of llm/anthropicllm and
// llm/openaillm); the next target is tried after the classes of Policy.FallbackOn and an open
// breaker, never after an invalid request, which no other target would take.
//
// The body is forwarded as it came; only its model field is rewritten when a target's model
// differs from the one requested. Chains cross no provider: a chain mixing Anthropic and OpenAI
// upstreams is refused by Load (the request's format, tool ids and provider-only fields would
// not survive the crossing).
//
// # Streams
//
// A stream is held until the upstream's first meaningful frame (an Anthropic content delta or
// the message's end; an OpenAI chunk with content, a tool call or a finish reason), so an error
// before it — an error status, an in-band error event, a malformed frame, an empty or cut
// stream, no first token in time — is retried or fallen back from with nothing sent. Once it is
// committed, the frames go out byte for byte as they come; a failure then ends the client's
// stream with an in-band error in its provider's format (Anthropic "event: error"; OpenAI an
// error chunk and no [DONE]), never a clean end, and never a second stream spliced into the
// first. A stream that ends without message_stop or [DONE] is a failure.
//
// # Marking and access
//
// Every answer names the upstream and model that answered (X-Rebound-Upstream,
// X-Rebound-Model), says whether a fallback answered (X-Rebound-Degraded), and lists the failed
// attempts before it (X-Rebound-Failures); the body's shape is the provider's, unchanged.
// Clients authenticate with the gateway's own keys; the upstreams' keys are sent to the
// upstreams only, and appear in no answer, log line or metric label.
//
// docs/gateway.md is the reference: the configuration file, the headers, the metrics, the
// Redis-shared state of replicas.
package gateway
