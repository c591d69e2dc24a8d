package rebound

import "context"

// Op is one attempt at an operation that produces a T. The context carries the attempt's own
// deadline, if any; an Op must return when it is done.
type Op[T any] func(ctx context.Context) (T, error)

// Role is who said a message.
type Role string

// The roles of a conversation.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a conversation. It lives in the root package so that the run journal
// (package checkpoint) and the LLM layer (package llm) share it without importing each other.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
	// Degraded marks an assistant turn answered by a fallback rather than the primary.
	Degraded bool `json:"degraded,omitempty"`
	// Source names what produced the message (a model such as "anthropic/claude-x"), if known.
	Source string `json:"source,omitempty"`
}

// User returns a user message.
func User(text string) Message { return Message{Role: RoleUser, Content: text} }

// Assistant returns an assistant message.
func Assistant(text string) Message { return Message{Role: RoleAssistant, Content: text} }

// System returns a system message.
func System(text string) Message { return Message{Role: RoleSystem, Content: text} }
