package fakellm

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The tool conversation of a request: what the fake checks (as the real APIs do: every tool
// call answered by exactly one result, in the right place) and what the result= and
// result-error= selectors read.

// apiToolCall is an OpenAI assistant message's tool call.
type apiToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// apiBlock is an Anthropic content block, as far as the fake reads it.
type apiBlock struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	IsError   bool            `json:"is_error"`
	Content   json.RawMessage `json:"content"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	Data      string          `json:"data"`
}

// toolResult is one result the last turn carries.
type toolResult struct {
	name    string // the tool of the call it answers
	isError bool   // Anthropic is_error; OpenAI: content starting "Error"
}

// convo is what the fake learns from a request's tool conversation.
type convo struct {
	uses    []string     // every tool call id in the conversation, in order
	results []string     // every tool result's call id, in order
	last    []toolResult // the results the last turn carries
	images  int          // image blocks (parts) in the conversation, tool results' included
	invalid string       // why the real API would refuse the conversation ("": it would not)
}

func blocksOf(raw json.RawMessage) []apiBlock {
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var bs []apiBlock
	if json.Unmarshal(raw, &bs) != nil {
		return nil
	}
	return bs
}

// anthropicConvo checks an Anthropic conversation: each assistant turn's tool_use ids are
// answered by tool_result blocks at the start of the next user turn, each exactly once, and no
// tool_result answers anything else; tool_use ids match ^[a-zA-Z0-9_-]+$.
func anthropicConvo(msgs []apiMessage) convo {
	var cv convo
	names := map[string]string{}
	var pending []string // ids of the previous assistant turn
	fail := func(f string, a ...any) {
		if cv.invalid == "" {
			cv.invalid = fmt.Sprintf(f, a...)
		}
	}
	for i, m := range msgs {
		bs := blocksOf(m.Content)
		if m.Role == "assistant" {
			if len(pending) > 0 {
				fail("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, strings.Join(pending, ", "))
			}
			pending = nil
			for j, b := range bs {
				switch b.Type {
				case "thinking":
					if b.Signature != signature(b.Thinking) {
						fail("messages.%d.content.%d: Invalid `signature` in `thinking` block", i, j)
					}
				case "redacted_thinking":
					if !strings.HasPrefix(b.Data, "fakellm-redacted-") {
						fail("messages.%d.content.%d: Invalid `data` in `redacted_thinking` block", i, j)
					}
				}
				if b.Type != "tool_use" {
					continue
				}
				if !anthropicID(b.ID) {
					fail("messages.%d.content.%d.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'", i, j)
				}
				names[b.ID] = b.Name
				pending = append(pending, b.ID)
				cv.uses = append(cv.uses, b.ID)
			}
			cv.last = nil
			continue
		}
		cv.last = nil
		answered := map[string]bool{}
		seenOther := false
		for _, b := range bs {
			if b.Type == "image" {
				cv.images++
			}
			if b.Type == "tool_result" {
				for _, c := range blocksOf(b.Content) {
					if c.Type == "image" {
						cv.images++
					}
				}
			}
		}
		for j, b := range bs {
			if b.Type != "tool_result" {
				seenOther = true
				continue
			}
			cv.results = append(cv.results, b.ToolUseID)
			if seenOther {
				fail("messages.%d.content.%d: tool_result blocks must come first in the content of a user message, before any other block", i, j)
			}
			if !contains(pending, b.ToolUseID) || answered[b.ToolUseID] {
				fail("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, b.ToolUseID)
			}
			answered[b.ToolUseID] = true
			cv.last = append(cv.last, toolResult{name: names[b.ToolUseID], isError: b.IsError})
		}
		var missing []string
		for _, id := range pending {
			if !answered[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			fail("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, strings.Join(missing, ", "))
		}
		pending = nil
	}
	if len(pending) > 0 {
		fail("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", len(msgs)-1, strings.Join(pending, ", "))
	}
	return cv
}

func anthropicID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// maxOpenAIID is the longest tool call id Chat Completions takes.
const maxOpenAIID = 40

// openaiConvo checks a Chat Completions conversation: an assistant message's tool_calls are
// followed by one "tool" message per id before any other message, and a tool message answers a
// call of the assistant message before it; ids are at most 40 characters.
func openaiConvo(msgs []apiMessage) convo {
	var cv convo
	names := map[string]string{}
	var pending []string
	answered := map[string]bool{}
	fail := func(f string, a ...any) {
		if cv.invalid == "" {
			cv.invalid = fmt.Sprintf(f, a...)
		}
	}
	missing := func() []string {
		var out []string
		for _, id := range pending {
			if !answered[id] {
				out = append(out, id)
			}
		}
		return out
	}
	for i, m := range msgs {
		if m.Role == "tool" {
			cv.results = append(cv.results, m.ToolCallID)
			if !contains(pending, m.ToolCallID) || answered[m.ToolCallID] {
				fail("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
			}
			answered[m.ToolCallID] = true
			text, _ := textOf(m.Content)
			cv.last = append(cv.last, toolResult{name: names[m.ToolCallID], isError: strings.HasPrefix(text, "Error")})
			continue
		}
		if ms := missing(); len(ms) > 0 {
			fail("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %s", strings.Join(ms, ", "))
		}
		pending, answered = nil, map[string]bool{}
		cv.last = nil
		for _, b := range blocksOf(m.Content) {
			if b.Type == "image_url" {
				cv.images++
			}
		}
		for j, tc := range m.ToolCalls {
			if len(tc.ID) > maxOpenAIID {
				fail("Invalid 'messages[%d].tool_calls[%d].id': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", i, j, maxOpenAIID, len(tc.ID))
			}
			names[tc.ID] = tc.Function.Name
			pending = append(pending, tc.ID)
			cv.uses = append(cv.uses, tc.ID)
		}
	}
	if ms := missing(); len(ms) > 0 {
		fail("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %s", strings.Join(ms, ", "))
	}
	return cv
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// matchResult reports whether the last turn carries a result of tool name (any tool when name
// is ""), whose error flag is wantErr (0 either, 1 an error, 2 not an error).
func (cv *convo) matchResult(name string, wantErr int) bool {
	for _, r := range cv.last {
		if name != "" && r.name != name {
			continue
		}
		if wantErr == 1 && !r.isError || wantErr == 2 && r.isError {
			continue
		}
		return true
	}
	return false
}

// choice is a request's tool_choice and parallel switch, in Anthropic's words.
type choice struct {
	mode       string // "auto", "any", "tool", "none"
	name       string // the tool of mode "tool"
	noParallel bool
}

// readChoice reads Anthropic's tool_choice {type, name, disable_parallel_tool_use} or OpenAI's
// "auto" | "required" | "none" | {type: function, function: {name}} with parallel_tool_calls.
func readChoice(req *apiRequest) choice {
	ch := choice{mode: "auto"}
	raw := req.ToolChoice
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		switch s {
		case "required":
			ch.mode = "any"
		case "none":
			ch.mode = "none"
		}
	} else if len(raw) > 0 && raw[0] == '{' {
		var v struct {
			Type     string `json:"type"`
			Name     string `json:"name"`
			NoPar    bool   `json:"disable_parallel_tool_use"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		json.Unmarshal(raw, &v)
		switch v.Type {
		case "any", "none":
			ch.mode = v.Type
		case "tool":
			ch.mode, ch.name = "tool", v.Name
		case "function":
			ch.mode, ch.name = "tool", v.Function.Name
		}
		ch.noParallel = v.NoPar
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		ch.noParallel = true
	}
	return ch
}

// offeredTool is one tool of a request.
type offeredTool struct {
	name   string
	schema map[string]any
}

// offered reads the request's tools (Anthropic {name, input_schema} or OpenAI {type:
// function, function: {name, parameters}}).
func offered(raw json.RawMessage) []offeredTool {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var tools []struct {
		Name        string         `json:"name"`
		InputSchema map[string]any `json:"input_schema"`
		Function    struct {
			Name       string         `json:"name"`
			Parameters map[string]any `json:"parameters"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &tools) != nil {
		return nil
	}
	out := make([]offeredTool, 0, len(tools))
	for _, t := range tools {
		n, schema := t.Name, t.InputSchema
		if n == "" {
			n, schema = t.Function.Name, t.Function.Parameters
		}
		if n != "" {
			out = append(out, offeredTool{n, schema})
		}
	}
	return out
}

// toolCalls are the calls a tool-use rule (or a forced tool choice) makes: the tools named, in
// order (every one must be offered), or the request's first tool; input as the rule gives it or
// built from the tool's schema. ok is false when the request cannot take the calls (a tool not
// offered, tool_choice none); a forced choice of one tool calls that tool only.
func toolCalls(tools []offeredTool, r *Rule, ch choice, p prompt) ([]toolCall, bool) {
	if len(tools) == 0 || ch.mode == "none" {
		return nil, false
	}
	var names []string
	var input string
	if r != nil {
		names, input = r.Tools, r.Input
	}
	if ch.mode == "tool" {
		names = []string{ch.name}
	}
	if len(names) == 0 {
		names = []string{tools[0].name}
	}
	if ch.noParallel && len(names) > 1 {
		names = names[:1]
	}
	var calls []toolCall
	for _, n := range names {
		var t *offeredTool
		for i := range tools {
			if tools[i].name == n {
				t = &tools[i]
				break
			}
		}
		if t == nil {
			return nil, false
		}
		in := input
		if in == "" {
			var v any = map[string]any{}
			if t.schema != nil {
				v = instance(t.schema, p, 0)
			}
			if _, ok := v.(map[string]any); !ok {
				v = map[string]any{}
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, false
			}
			in = string(b)
		}
		calls = append(calls, toolCall{name: n, input: in})
	}
	return calls, true
}

// notJSON is input cut before its end: what a model that stopped mid-object sends.
func notJSON(input string) string {
	if len(input) < 2 {
		return `{"`
	}
	return input[:len(input)-1]
}

// inputChunks splits a tool input into the pieces a stream sends: n bytes each (0: two halves).
func inputChunks(s string, n int) []string {
	if n <= 0 {
		return halves(s)
	}
	var out []string
	for len(s) > n {
		cut := n
		for cut < len(s) && s[cut]&0xc0 == 0x80 {
			cut++ // never inside a UTF-8 sequence
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
