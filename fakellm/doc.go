// Package fakellm is a fake LLM server that the official Anthropic and OpenAI Go SDKs cannot
// tell from the real APIs, until a fault script tells it to fail in one of the ways the real
// APIs fail.
//
// One http.Handler serves, on one port:
//
//	POST /v1/messages               Anthropic Messages, JSON or SSE ("stream": true)
//	POST /v1/messages/count_tokens  {"input_tokens": N}
//	POST /v1/chat/completions       OpenAI Chat Completions, JSON or SSE ("stream": true)
//	     /_fakellm/...              control plane (see below)
//
// Point the Anthropic SDK at Server.AnthropicBaseURL (the server's URL) and the OpenAI SDK at
// Server.OpenAIBaseURL (URL + "/v1/"). Anthropic requests may carry the key in x-api-key or
// Authorization: Bearer, with any anthropic-version.
//
// # Replies
//
// Replies are deterministic: the text is "[fakellm HASH] " followed by the first eight words of
// the last user message, where HASH is 12 hex digits over the model, the system text and every
// message. The same request always gets the same reply (a retry sees what the first attempt
// would have seen) and a test can tell which step a reply belongs to. When the system text or the
// last user message mentions JSON, or the request asks for structured output (OpenAI
// response_format json_object/json_schema, Anthropic output_format/output_config), the reply is
// valid JSON: an instance of the schema when one is given, else {"reply": HASH, "echo": WORDS}.
// Usage counts are plausible (about four bytes a token); a reply longer than max_tokens is cut
// and stops with max_tokens (OpenAI: finish_reason "length").
//
// # Fault scripts
//
// A script is line-based; '#' starts a comment; blank lines are ignored. A line is a directive
// (seed, limit) or a rule: a kind, its positional argument if any, then key=value pairs (a value
// with spaces is double-quoted: contains="two words").
//
//	seed 42                      # seed for p= and latency distributions (default 0)
//	limit rpm=1200 tpm=400000    # per-key token buckets, per minute (burst = the limit)
//	# limit rps=20 burst=20      # or per second (one limit line); tps=, token-burst= for tokens
//
// Rules are tried in order for each request to /v1/messages and /v1/chat/completions
// (count_tokens is never faulted or numbered). The rate limit is checked first: a request it
// refuses gets 429 and no rule applies.
// latency and slow rules are modifiers: every matching one adds its delay. Of the other rules,
// the first that matches decides the outcome; when none does, the reply is normal. Kinds:
//
//	ok                           a normal reply (stops the search: "ok req=1" exempts request 1)
//	error STATUS                 the provider's error body for STATUS (Anthropic type by status:
//	                             400 invalid_request_error ... 529 overloaded_error; OpenAI
//	                             type/code: 429 requests/rate_limit_exceeded, 5xx server_error ...);
//	                             type=, code= (Anthropic error.details.error_code), message=,
//	                             retry-after=, retry-after-ms=, should-retry=true|false
//	quota                        429 that must not be retried: Anthropic rate_limit_error with
//	                             error_code enforced_spend_limit_reached, OpenAI insufficient_quota;
//	                             no retry-after (code= picks e.g. contract_spend_limit_reached)
//	context-overflow             400 "prompt is too long: N tokens > 200000 maximum" /
//	                             OpenAI context_length_exceeded, param "messages"
//	latency DELAY                wait before answering: 200ms, 100ms..500ms (uniform),
//	                             exp=200ms (exponential, that mean), normal=200ms/50ms
//	slow DELAY                   wait between stream events (same forms; streams only)
//	hang                         never answer; drop the connection when the client gives up
//	reset                        close the connection before any response (TCP reset)
//	malformed                    200 whose JSON body is cut in half; in a stream, event after=N
//	                             (default 1) has half its JSON
//	html [STATUS]                a proxy's HTML error page, 413 by default (no JSON, no API headers)
//	cut                          a stream aborted after after=N events (default: half); a JSON
//	                             body aborted half-way
//	truncate                     a stream that ends cleanly after after=N events (default half,
//	                             never including message_stop / [DONE]); streams only
//	stream-error                 after after=N events (default 2) an Anthropic "event: error"
//	                             (type= default overloaded_error) or an OpenAI data: {"error":...}
//	                             (type= default server_error), then the stream ends; streams only
//	stall                        a stream that stops after after=N events and waits for the
//	                             client to give up, or for=DUR and then goes on (a slow first
//	                             token); streams only
//	max-tokens                   stop_reason max_tokens / finish_reason length, reply cut in half
//	refusal                      stop_reason refusal with stop_details / message.refusal
//	content-filter               OpenAI finish_reason content_filter (Anthropic: refusal)
//	not-json                     prose where the prompt asked for JSON
//	pause-turn                   stop_reason pause_turn, reply cut in half (OpenAI: finish_reason stop)
//	context-window               stop_reason model_context_window_exceeded, reply cut in half
//	                             (OpenAI: finish_reason length)
//	tool-use                     not a fault: a call of the request's first tool (name=a,b calls
//	                             those, in parallel) with input=JSON (single-quoted) or input built
//	                             from its schema; stop_reason tool_use / finish_reason tool_calls.
//	                             Requests without those tools skip the rule. chunk=N streams the
//	                             input N bytes a piece; input-fault=cut|truncate|not-json breaks it
//
// slow, truncate, stream-error and stall match streaming requests only (a non-streaming request
// skips them and they keep their times= count); cut and malformed apply to both.
//
// Selectors, on any rule (all given must match):
//
//	provider=anthropic|openai    model=GLOB (path.Match: model=claude-*)
//	req=N | req=A..B | req=A..   request number under this script, 1-based, both providers
//	model-req=...                request number among requests for the same model
//	contains=TEXT                substring of the last user message
//	p=0.25                       probability, decided by hashing seed, line and request number
//	during=T1..T2                time since the script was loaded (either end may be empty)
//	stream=true|false            streaming requests only, or non-streaming only
//	times=N                      fire for the first N matching requests only
//	result=TOOL                  the last turn carries a result of TOOL (result=*: of any tool)
//	result-error=true|false      ... and that result is (not) an error (is_error; OpenAI "Error...")
//
// Tool conversations are checked as the real APIs check them: a tool call without its result, a
// result of no call, a result after other blocks (Anthropic), an id the API does not take get
// 400. A forced tool_choice gets a call whatever the script says; tool_choice none makes
// tool-use rules skip.
//
// Example: fail the first two attempts with 529, then succeed; an outage of the haiku model
// from 10 s to 20 s; one request in ten slow:
//
//	error 529 times=2 retry-after-ms=50
//	error 503 model=claude-haiku-* during=10s..20s
//	latency 100ms..300ms p=0.1
//
// A bad script is rejected with a *ScriptError naming the line and the reason.
//
// # Rate limits
//
// With a limit line, each API key (x-api-key or the bearer token; no key is a key of its own)
// has a request bucket and a token bucket that refill continuously. A request needs one request
// and its input tokens; output tokens are taken after the reply. A request that does not fit
// gets 429 (Anthropic rate_limit_error; OpenAI type "requests" or "tokens", code
// rate_limit_exceeded) with retry-after in whole seconds. Every response carries the
// provider's headers, Anthropic's with RFC 3339 resets and OpenAI's with Go-duration resets
// ("6m0s", "12ms"):
//
//	anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}
//	x-ratelimit-{limit,remaining,reset}-{requests,tokens}
//
// The limit is the bucket's capacity and the reset is when it is full again. A prompt larger
// than the whole token bucket gets 429 without retry-after (waiting cannot help). Without a
// limit line the headers report a
// generous nominal limit that is never enforced.
//
// # Control plane
//
//	GET  /_fakellm/script        the running script
//	PUT  /_fakellm/script        replace it (POST too); 400 {"error","line","reason"} if bad
//	GET  /_fakellm/counters      {"requests", "in_flight", "by_model", "by_status", "by_fault"}
//	GET  /_fakellm/requests      the bounded request log (X-Stainless-Retry-Count, whether a key
//	                             was present and in which header; never the key)
//	POST /_fakellm/reset         clear counters and log, restart the script
//
// In tests, NewServer(t, script) starts a loopback server closed by t.Cleanup.
package fakellm
