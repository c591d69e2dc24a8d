package main

import (
	"context"
	"strconv"
	"strings"
)

// A Call is one request an agent makes through an official SDK, in a form both drivers (Go and
// Node) translate to their provider's wire format.
type Call struct {
	ID        int       `json:"id"`
	Provider  string    `json:"provider"` // "anthropic" or "openai"
	BaseURL   string    `json:"base_url"` // what the SDK takes as its base URL
	APIKey    string    `json:"api_key"`
	Model     string    `json:"model"`
	Stream    bool      `json:"stream"`
	System    string    `json:"system,omitempty"`
	Messages  []Message `json:"messages"`
	Tools     []Tool    `json:"tools,omitempty"`
	MaxTokens int       `json:"max_tokens"`
	// TimeoutMS bounds the whole call on the client's side (the SDK's timeout); the SDK's own
	// retries are off in both drivers, so what recovers is the gateway.
	TimeoutMS int `json:"timeout_ms"`
}

// A Message is one turn: text, or the assistant's tool calls, or the user's tool results.
type Message struct {
	Role        string       `json:"role"` // "user" or "assistant"
	Text        string       `json:"text,omitempty"`
	ToolCalls   []ToolCall   `json:"tool_calls,omitempty"`
	ToolResults []ToolResult `json:"tool_results,omitempty"`
}

// A Tool is offered to the model; Schema is its JSON schema (an object).
type Tool struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Schema      map[string]any `json:"schema"`
}

// A ToolCall is a call the model made; Input is its arguments as JSON.
type ToolCall struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Input string `json:"input"`
}

// A ToolResult answers the call with that id.
type ToolResult struct {
	ID      string `json:"id"`
	Content string `json:"content"`
}

// A Result is what the SDK gave the agent.
type Result struct {
	ID int `json:"id"`
	// OK: the SDK returned without an error (for a stream: it ended and Err() was nil). An
	// answer that is OK but incomplete is a truncated answer passed off as complete.
	OK         bool       `json:"ok"`
	Text       string     `json:"text"`
	StopReason string     `json:"stop_reason"` // Anthropic stop_reason, OpenAI finish_reason
	Model      string     `json:"model"`       // the model the body names
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	Usage      bool       `json:"usage"` // the answer carried token usage
	// Starts counts the stream-start frames the client saw (Anthropic message_start; OpenAI
	// distinct chunk ids): more than one is two streams spliced together.
	Starts int `json:"starts"`
	// Headers are the response's headers, names in lower case (only the first value).
	Headers   map[string]string `json:"headers,omitempty"`
	Err       *CallError        `json:"error,omitempty"`
	ElapsedMS float64           `json:"elapsed_ms"`
	// FirstMS is the time to the first text or tool-call piece (streams), or to the answer.
	FirstMS float64 `json:"first_ms"`
}

// A CallError is the error the SDK raised.
type CallError struct {
	// Kind: "api" (an HTTP error status), "stream" (an error inside a 200 stream: Anthropic
	// event: error, OpenAI data: {"error":…}), "timeout" (the client's timeout), "transport"
	// (connection, EOF, a frame the SDK could not parse).
	Kind    string `json:"kind"`
	Status  int    `json:"status,omitempty"`
	Type    string `json:"type,omitempty"` // the provider's error type
	Code    string `json:"code,omitempty"` // OpenAI code / Anthropic error_code
	Message string `json:"message"`
}

func (e *CallError) String() string {
	if e == nil {
		return ""
	}
	s := e.Kind
	if e.Status != 0 {
		s += " " + strconv.Itoa(e.Status)
	}
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Code != "" && e.Code != e.Type {
		s += "/" + e.Code
	}
	return s
}

// A Driver makes calls through one language's official SDKs.
type Driver interface {
	Name() string
	Do(ctx context.Context, c Call) Result
	Close() error
}

// header returns a response header (name in any case).
func (r Result) header(name string) string { return r.Headers[strings.ToLower(name)] }
