package rebound

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Role is who said a message.
type Role string

// The roles of a conversation. Tool results are sent in a RoleUser message of ToolResult blocks
// (Anthropic's shape); the OpenAI adapter splits such a message into one "tool" message per call.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a conversation. It lives in the root package so that the run journal
// (package checkpoint) and the LLM layer (package llm) share it without importing each other.
//
// A message is either text or ordered blocks. Content is the shorthand for a message that is one
// text block (what User, Assistant and System build, and what every journal written before blocks
// existed holds); Blocks holds the content of any other message: text, tool calls, tool results,
// images and provider-opaque blocks, in order. When both are set, Content comes first (Parts).
// Read a message through Parts and Text rather than the fields, so that both forms are seen.
type Message struct {
	Role Role `json:"role"`
	// Content is the text of a text-only message.
	Content string `json:"content"`
	// Blocks is the ordered content of a message that is more than text.
	Blocks []Block `json:"blocks,omitempty"`
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

// NewMessage returns a message of role made of blocks, in order. A single text block becomes a
// text-only message (Content), so that its journal encoding is the one text messages always had.
func NewMessage(role Role, blocks ...Block) Message {
	if len(blocks) == 1 && blocks[0].Type == BlockText {
		return Message{Role: role, Content: blocks[0].Text}
	}
	return Message{Role: role, Blocks: blocks}
}

// ToolResults returns the user message that answers a turn's tool calls: one ToolResult block per
// call, in the order of the calls.
func ToolResults(results ...Block) Message { return Message{Role: RoleUser, Blocks: results} }

// Parts returns the message's content as blocks: a text block for Content (if not empty), then
// Blocks. The slice may share Blocks' backing array; do not modify it.
func (m Message) Parts() []Block {
	if m.Content == "" {
		return m.Blocks
	}
	if len(m.Blocks) == 0 {
		return []Block{Text(m.Content)}
	}
	return append([]Block{Text(m.Content)}, m.Blocks...)
}

// Text returns the message's text: Content and its text blocks joined, without tool calls,
// tool results, images or opaque blocks.
func (m Message) Text() string {
	if len(m.Blocks) == 0 {
		return m.Content
	}
	var b strings.Builder
	b.WriteString(m.Content)
	for _, p := range m.Blocks {
		if p.Type == BlockText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// ToolCalls returns the message's tool-use blocks, in order.
func (m Message) ToolCalls() []Block { return blocksOf(m.Blocks, BlockToolUse) }

// ToolResultBlocks returns the message's tool-result blocks, in order.
func (m Message) ToolResultBlocks() []Block { return blocksOf(m.Blocks, BlockToolResult) }

func blocksOf(bs []Block, t BlockType) []Block {
	var out []Block
	for _, b := range bs {
		if b.Type == t {
			out = append(out, b)
		}
	}
	return out
}

// BlockType says what a Block is.
type BlockType string

// The kinds of block.
const (
	// BlockText is text (Text).
	BlockText BlockType = "text"
	// BlockToolUse is a tool call made by the model: ID, Name, Input.
	BlockToolUse BlockType = "tool_use"
	// BlockToolResult answers the tool call CallID: Content (text or image blocks) and IsError.
	BlockToolResult BlockType = "tool_result"
	// BlockImage is an image: MediaType and either Data (base64) or URL.
	BlockImage BlockType = "image"
	// BlockOpaque is a provider's block that Rebound does not model (Anthropic thinking and
	// redacted thinking with their signatures, server tool blocks, ...), carried verbatim in Raw so
	// that it goes back to that Provider byte for byte. Other providers never see it.
	BlockOpaque BlockType = "opaque"
)

// Block is one piece of a message's content. Which fields are used depends on Type; the others are
// empty (and left out of the JSON encoding).
type Block struct {
	Type BlockType `json:"type"`

	// Text is a text block's text.
	Text string `json:"text,omitempty"`

	// ID is a tool call's id, as the model that made the call gave it. The adapters translate
	// an id that the receiving provider would refuse (another provider's shape) the same way
	// every time, so a conversation can cross providers and come back.
	ID string `json:"id,omitempty"`
	// Name is the tool a tool-use block calls.
	Name string `json:"name,omitempty"`
	// Input is a tool call's arguments: a JSON object, verbatim.
	Input json.RawMessage `json:"input,omitempty"`

	// CallID is the id of the tool call a tool-result block answers.
	CallID string `json:"call_id,omitempty"`
	// Content is a tool result's content: text and image blocks.
	Content []Block `json:"content,omitempty"`
	// IsError marks a tool result that reports a failure to the model.
	IsError bool `json:"is_error,omitempty"`

	// MediaType is an image's type, such as "image/png".
	MediaType string `json:"media_type,omitempty"`
	// Data is an image's bytes, base64-encoded.
	Data string `json:"data,omitempty"`
	// URL is where an image is, when it is not inline.
	URL string `json:"url,omitempty"`

	// Provider names the provider an opaque block came from ("anthropic", "openai").
	Provider string `json:"provider,omitempty"`
	// Raw is an opaque block as the provider sent it.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Text returns a text block.
func Text(s string) Block { return Block{Type: BlockText, Text: s} }

// ToolUse returns a tool-use block: the model's call id of tool name with input (a JSON object).
func ToolUse(id, name string, input json.RawMessage) Block {
	return Block{Type: BlockToolUse, ID: id, Name: name, Input: input}
}

// ToolResult returns a tool-result block answering callID with text; isError marks a failure
// the model should see as one.
func ToolResult(callID, text string, isError bool) Block {
	return Block{Type: BlockToolResult, CallID: callID, Content: []Block{Text(text)}, IsError: isError}
}

// Image returns an inline image block of data (base64) of mediaType.
func Image(mediaType, data string) Block {
	return Block{Type: BlockImage, MediaType: mediaType, Data: data}
}

// ImageURL returns an image block that points at url.
func ImageURL(mediaType, url string) Block {
	return Block{Type: BlockImage, MediaType: mediaType, URL: url}
}

// Opaque returns a block of provider's that Rebound carries verbatim (raw is its JSON).
func Opaque(provider string, raw json.RawMessage) Block {
	return Block{Type: BlockOpaque, Provider: provider, Raw: raw}
}

// ResultText returns a tool-result block's text content joined.
func (b Block) ResultText() string {
	var s strings.Builder
	for _, c := range b.Content {
		if c.Type == BlockText {
			s.WriteString(c.Text)
		}
	}
	return s.String()
}

// Equal reports whether m and o are the same message: the same role, marks and content, with an
// empty and a nil slice the same (as after a journal round trip).
func (m Message) Equal(o Message) bool {
	return m.Role == o.Role && m.Content == o.Content && m.Degraded == o.Degraded &&
		m.Source == o.Source && blocksEqual(m.Blocks, o.Blocks)
}

// Equal reports whether b and o are the same block (raw JSON compared byte for byte).
func (b Block) Equal(o Block) bool {
	return b.Type == o.Type && b.Text == o.Text && b.ID == o.ID && b.Name == o.Name &&
		bytes.Equal(b.Input, o.Input) && b.CallID == o.CallID && blocksEqual(b.Content, o.Content) &&
		b.IsError == o.IsError && b.MediaType == o.MediaType && b.Data == o.Data && b.URL == o.URL &&
		b.Provider == o.Provider && bytes.Equal(b.Raw, o.Raw)
}

func blocksEqual(a, b []Block) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
