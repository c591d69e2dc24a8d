package llm

import (
	"context"
	"errors"
	"net/http"

	"github.com/rebound-go/rebound"
)

// Model is a provider-neutral language model. The adapters (llm/anthropicllm, llm/openaillm)
// implement it over the official SDKs; Resilient and Fallback wrap a Model in another Model, so
// that wrapped and bare models are used the same way.
//
// Errors are classified (rebound.Classify): an adapter returns a *rebound.Error whose Class,
// RetryAfter and ShouldRetry say what the provider said. A success-shaped answer that is not a
// usable answer (a refusal, a content filter, a context window exceeded) is an error of its
// class, not a Response.
type Model interface {
	// Name names the model as "provider/model", e.g. "anthropic/claude-haiku-4-5". It is the
	// breaker key, the name in events and in Provenance.
	Name() string
	// ContextWindow is the model's context window in tokens (0: unknown). Fallback uses it to
	// move a context_overflow only to a model with a larger window.
	ContextWindow() int
	// Generate sends req and returns the whole answer.
	Generate(ctx context.Context, req Request) (*Response, error)
	// Stream sends req and calls onDelta, on the calling goroutine, for every piece of content
	// as it arrives; it returns the whole answer when the stream ends with its terminal event.
	// A stream that ends without one is a ClassMalformed error (truncated), never a Response.
	// onDelta may be nil.
	Stream(ctx context.Context, req Request, onDelta func(Delta)) (*Response, error)
}

// Delta is a piece of a streamed answer.
type Delta struct {
	// Text is the text the piece adds. It is empty for content that is not text (a tool call's
	// input, thinking): such pieces still show that the stream is alive.
	Text string
	// Restart says that the text delivered before this delta belonged to an attempt that failed
	// and must be discarded: a new attempt starts (Resilient sends it before the first delta of
	// every attempt after the first). A Restart delta carries no text.
	Restart bool
}

// Message is one turn of a conversation (the root package's type, shared with the run journal).
type Message = rebound.Message

// User returns a user message.
func User(text string) Message { return rebound.User(text) }

// Assistant returns an assistant message.
func Assistant(text string) Message { return rebound.Assistant(text) }

// Request is what is sent to a model.
type Request struct {
	// System is the system prompt (optional).
	System string
	// Messages is the conversation, oldest first. System messages in it are appended to System.
	Messages []Message
	// MaxTokens bounds the answer's length. Default 1024.
	MaxTokens int
	// StopSequences end the answer when produced.
	StopSequences []string
}

// DefaultMaxTokens is the MaxTokens used when a Request leaves it 0.
const DefaultMaxTokens = 1024

// MaxTokensOrDefault returns r.MaxTokens, or DefaultMaxTokens when it is not positive.
func (r Request) MaxTokensOrDefault() int {
	if r.MaxTokens > 0 {
		return r.MaxTokens
	}
	return DefaultMaxTokens
}

// EstimatedTokens is a rough count of the tokens the request may use (input and output), about
// four characters a token plus MaxTokens, used to pace token rate limits before sending.
func (r Request) EstimatedTokens() int {
	n := len(r.System)
	for _, m := range r.Messages {
		n += len(m.Content) + 4
	}
	return n/4 + r.MaxTokensOrDefault()
}

// StopReason is why a model stopped, in Anthropic's vocabulary (OpenAI's finish reasons are
// mapped onto it: "stop" is StopEndTurn, "length" StopMaxTokens, "tool_calls" StopToolUse).
type StopReason string

// The stop reasons of a Response. Refusals, content filters and an exceeded context window are
// errors (ClassContentPolicy, ClassContextOverflow), not stop reasons.
const (
	StopEndTurn      StopReason = "end_turn"
	StopSequence     StopReason = "stop_sequence"
	StopToolUse      StopReason = "tool_use"
	StopPauseTurn    StopReason = "pause_turn"
	StopMaxTokens    StopReason = "max_tokens"
	StopUnrecognized StopReason = "unknown"
)

// Usage counts tokens.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Response is a model's answer.
//
// A Response whose StopReason is StopMaxTokens is a soft failure, not an error: Text is valid as
// far as it goes, and the caller may continue it (append it as an assistant turn and ask again)
// or raise MaxTokens; Structured re-asks. Resilient does not retry it (the same request would
// stop at the same place).
type Response struct {
	// Text is the answer's text (text blocks joined).
	Text string
	// StopReason is why the model stopped.
	StopReason StopReason
	// Usage is what the answer cost.
	Usage Usage
	// Provenance says which model answered and what failed before.
	Provenance Provenance
	// Header is the HTTP response header of the answering attempt, if the model has one (the
	// rate limiter reads the provider's rate-limit headers from it).
	Header http.Header
}

// Truncated reports whether the answer stopped at MaxTokens.
func (r *Response) Truncated() bool { return r.StopReason == StopMaxTokens }

// Message returns the answer as an assistant message marked with its provenance.
func (r *Response) Message() Message {
	m := rebound.Assistant(r.Text)
	m.Degraded = r.Provenance.Degraded
	m.Source = r.Provenance.Model
	return m
}

// Provenance says where an answer came from.
type Provenance struct {
	// Model is the Name of the model that answered.
	Model string
	// Degraded is true when the model that answered is not the first of a Fallback chain.
	Degraded bool
	// Failures are what failed before the answer, in order (models skipped by Fallback, with
	// why).
	Failures []Failure
}

// Failure is a model that failed before another answered.
type Failure struct {
	Model string
	Class rebound.Class
	Err   error
}

// WithResponseHeader returns err carrying h, the HTTP response header of the failed attempt, so
// that a rate limiter can read the provider's rate-limit headers from failures as well
// (ResponseHeader). Adapters use it; errors.Is, errors.As and rebound.Classify see through it.
func WithResponseHeader(err error, h http.Header) error {
	if err == nil || h == nil {
		return err
	}
	return &headerError{err: err, h: h}
}

// ResponseHeader returns the HTTP response header carried by err (see WithResponseHeader), or
// nil.
func ResponseHeader(err error) http.Header {
	var he *headerError
	if errors.As(err, &he) {
		return he.h
	}
	return nil
}

type headerError struct {
	err error
	h   http.Header
}

func (e *headerError) Error() string { return e.err.Error() }
func (e *headerError) Unwrap() error { return e.err }
