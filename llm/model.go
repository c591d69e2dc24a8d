package llm

import (
	"context"
	"encoding/json"
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

	// Tools are the tools the model may call. A call comes back as a tool-use block of the
	// Response (Response.ToolCalls); its result goes back in the next request as a
	// rebound.ToolResults message.
	Tools []Tool
	// ToolChoice says whether and which tool the model must call. The zero value is auto.
	ToolChoice ToolChoice
	// DisableParallelToolCalls asks for at most one tool call per turn. By default the model may
	// make several calls in one turn, and every one of them needs a result.
	DisableParallelToolCalls bool
	// Temperature and TopP set sampling when not nil (Temperature: new(0.2)); nil leaves the
	// provider's default.
	Temperature *float64
	TopP        *float64
	// Extra carries parameters Rebound does not model, per provider: Extra["anthropic"] and
	// Extra["openai"] are JSON objects whose fields are merged into that provider's request body
	// (set last, so they win). An adapter ignores the other providers' entries.
	Extra map[string]json.RawMessage
}

// Tool is a tool the model may call.
type Tool struct {
	// Name is how the model calls the tool (letters, digits, '_' and '-').
	Name string
	// Description tells the model what the tool does and when to use it.
	Description string
	// InputSchema is the JSON Schema of the tool's input, an object schema. Nil means an object
	// with no declared properties.
	InputSchema json.RawMessage
}

// ToolChoiceMode says how the model chooses tools.
type ToolChoiceMode string

// The tool choice modes. Anthropic's "any" is OpenAI's "required"; a named tool is Anthropic's
// {"type":"tool"} and OpenAI's {"type":"function"}.
const (
	ToolChoiceAuto ToolChoiceMode = ""     // the model decides (the default)
	ToolChoiceAny  ToolChoiceMode = "any"  // the model must call some tool
	ToolChoiceNone ToolChoiceMode = "none" // the model must not call a tool
	ToolChoiceTool ToolChoiceMode = "tool" // the model must call the tool ToolChoice.Name
)

// ToolChoice says whether and which tool the model must call.
type ToolChoice struct {
	Mode ToolChoiceMode
	// Name is the tool to call when Mode is ToolChoiceTool.
	Name string
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
		for _, b := range m.Blocks {
			n += blockChars(b)
		}
	}
	for _, t := range r.Tools {
		n += len(t.Name) + len(t.Description) + len(t.InputSchema) + 16
	}
	return n/4 + r.MaxTokensOrDefault()
}

// blockChars is the characters a block adds to a request, roughly as the provider counts them.
// An image is counted as about 1,600 tokens, Anthropic's figure for a ~1.15 megapixel image.
func blockChars(b rebound.Block) int {
	n := len(b.Text) + len(b.Name) + len(b.Input) + len(b.Raw) + 8
	for _, c := range b.Content {
		n += blockChars(c)
	}
	if b.Type == rebound.BlockImage {
		n += 1600 * 4
	}
	return n
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
	// Blocks is the answer's content in order: text, tool calls, and the provider's opaque blocks
	// (thinking), when the answer is more than text. Nil for a text-only answer (Text is all).
	Blocks []rebound.Block
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

// ToolCalls returns the tool calls the answer makes, in order (tool-use blocks).
func (r *Response) ToolCalls() []rebound.Block {
	var out []rebound.Block
	for _, b := range r.Blocks {
		if b.Type == rebound.BlockToolUse {
			out = append(out, b)
		}
	}
	return out
}

// Message returns the whole answer as an assistant turn (its text, tool calls and opaque blocks,
// in order) marked with its provenance.
func (r *Response) Message() Message {
	m := rebound.Assistant(r.Text)
	if len(r.Blocks) > 0 {
		m = rebound.NewMessage(rebound.RoleAssistant, r.Blocks...)
	}
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
