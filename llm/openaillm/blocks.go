package openaillm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// CallIDPrefix starts the id a tool call is sent under when its own id is not one OpenAI takes
// (llm.MapCallID).
const CallIDPrefix = "call_rb_"

// MaxCallIDLen is the longest tool call id sent to OpenAI; a longer one is mapped (OpenAI and
// Azure refuse ids over 40 characters).
const MaxCallIDLen = 40

func validCallID(id string) bool { return len(id) <= MaxCallIDLen }

func callID(id string) string { return llm.MapCallID(id, CallIDPrefix, validCallID) }

// ErrorPrefix starts the content of a tool message that carries a failed result: Chat
// Completions has no error flag, so rebound.Block.IsError is sent as text the model reads.
const ErrorPrefix = "Error: "

// messages translates the neutral conversation into Chat Completions messages: a user message
// of tool results becomes one "tool" message per call, in order, followed by a user message of
// whatever else it holds (an image inside a tool result goes there too, as a tool message takes
// only text); an assistant turn's tool-use blocks become its tool_calls; opaque blocks (another
// provider's thinking) are dropped.
func messages(system string, msgs []rebound.Message) []openai.ChatCompletionMessageParamUnion {
	var out []openai.ChatCompletionMessageParamUnion
	if system != "" {
		out = append(out, openai.SystemMessage(system))
	}
	for _, msg := range msgs {
		switch msg.Role {
		case rebound.RoleSystem:
			out = append(out, openai.SystemMessage(msg.Text()))
		case rebound.RoleAssistant:
			if a, ok := assistant(msg); ok {
				out = append(out, a)
			}
		default:
			out = append(out, user(msg)...)
		}
	}
	return out
}

func assistant(msg rebound.Message) (openai.ChatCompletionMessageParamUnion, bool) {
	var a openai.ChatCompletionAssistantMessageParam
	text := msg.Text()
	for _, b := range msg.ToolCalls() {
		input := string(b.Input)
		if input == "" {
			input = "{}"
		}
		a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
			OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
				ID:       callID(b.ID),
				Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: b.Name, Arguments: input},
			},
		})
	}
	if text == "" && len(a.ToolCalls) == 0 {
		return openai.ChatCompletionMessageParamUnion{}, false // only blocks OpenAI cannot take
	}
	if text != "" || len(a.ToolCalls) == 0 {
		a.Content.OfString = openai.String(text)
	}
	return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}, true
}

func user(msg rebound.Message) []openai.ChatCompletionMessageParamUnion {
	if len(msg.Blocks) == 0 {
		return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(msg.Content)}
	}
	var out []openai.ChatCompletionMessageParamUnion
	var parts []openai.ChatCompletionContentPartUnionParam
	for _, b := range msg.Parts() {
		switch b.Type {
		case rebound.BlockToolResult:
			text := b.ResultText()
			if b.IsError && !strings.HasPrefix(text, ErrorPrefix) {
				text = ErrorPrefix + text
			}
			out = append(out, openai.ToolMessage(text, callID(b.CallID)))
			for _, c := range b.Content {
				if p, ok := imagePart(c); ok {
					parts = append(parts, p)
				}
			}
		case rebound.BlockText:
			if b.Text != "" {
				parts = append(parts, openai.TextContentPart(b.Text))
			}
		case rebound.BlockImage:
			if p, ok := imagePart(b); ok {
				parts = append(parts, p)
			}
		}
	}
	switch {
	case len(parts) == 1 && parts[0].OfText != nil:
		out = append(out, openai.UserMessage(parts[0].OfText.Text))
	case len(parts) > 0:
		out = append(out, openai.UserMessage(parts))
	}
	return out
}

// imagePart is an image as an image_url part: its URL, or its data as a data: URL.
func imagePart(b rebound.Block) (openai.ChatCompletionContentPartUnionParam, bool) {
	if b.Type != rebound.BlockImage {
		return openai.ChatCompletionContentPartUnionParam{}, false
	}
	url := b.URL
	if b.Data != "" {
		url = "data:" + b.MediaType + ";base64," + b.Data
	}
	if url == "" {
		return openai.ChatCompletionContentPartUnionParam{}, false
	}
	return openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: url}), true
}

// tools translates the tool definitions, the tool choice (any is "required", a named tool a
// function choice) and parallel_tool_calls.
func tools(p *openai.ChatCompletionNewParams, req llm.Request) error {
	for _, t := range req.Tools {
		fd := shared.FunctionDefinitionParam{Name: t.Name}
		if t.Description != "" {
			fd.Description = openai.String(t.Description)
		}
		schema := t.InputSchema
		if len(schema) == 0 {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		if err := json.Unmarshal(schema, &fd.Parameters); err != nil {
			return &rebound.Error{Class: rebound.ClassInvalid, Provider: Provider,
				Message: fmt.Sprintf("tool %q: input schema is not a JSON object: %v", t.Name, err), Err: err}
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	switch req.ToolChoice.Mode {
	case llm.ToolChoiceAny:
		p.ToolChoice.OfAuto = openai.String("required")
	case llm.ToolChoiceNone:
		if len(req.Tools) > 0 {
			p.ToolChoice.OfAuto = openai.String("none")
		}
	case llm.ToolChoiceTool:
		p.ToolChoice.OfFunctionToolChoice = &openai.ChatCompletionNamedToolChoiceParam{
			Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: req.ToolChoice.Name},
		}
	}
	if req.DisableParallelToolCalls && len(req.Tools) > 0 {
		p.ParallelToolCalls = openai.Bool(false)
	}
	if req.Temperature != nil {
		p.Temperature = openai.Float(*req.Temperature)
	}
	if req.TopP != nil {
		p.TopP = openai.Float(*req.TopP)
	}
	return nil
}

// extraOptions merges req.Extra["openai"] into the request body, field by field, last.
func extraOptions(req llm.Request) ([]option.RequestOption, error) {
	fields, err := llm.ExtraFields(req, Provider)
	if err != nil {
		return nil, &rebound.Error{Class: rebound.ClassInvalid, Provider: Provider, Message: err.Error(), Err: err}
	}
	opts := make([]option.RequestOption, 0, len(fields))
	for _, f := range fields {
		opts = append(opts, option.WithJSONSet(f.Path(), f.Value))
	}
	return opts, nil
}

// toolCall is a call as the answer gave it; arguments must be a JSON object.
type toolCall struct {
	id, name, args string
}

// answerBlocks turns an answer's text and tool calls into neutral blocks (nil for text only).
// A call whose arguments are not a JSON object (a stream cut inside them, or a model that wrote
// something else) is a ClassMalformed error, never a call with half its arguments.
func answerBlocks(text string, calls []toolCall, header http.Header) ([]rebound.Block, error) {
	if len(calls) == 0 {
		return nil, nil
	}
	var blocks []rebound.Block
	if text != "" {
		blocks = append(blocks, rebound.Text(text))
	}
	for _, c := range calls {
		if !isObject([]byte(c.args)) {
			return nil, &rebound.Error{
				Class: rebound.ClassMalformed, Provider: Provider, Status: http.StatusOK,
				Message:   fmt.Sprintf("tool call %s (%s): arguments are not a JSON object (truncated or not JSON): %.80q", c.id, c.name, c.args),
				RequestID: header.Get("x-request-id"),
			}
		}
		blocks = append(blocks, rebound.ToolUse(c.id, c.name, json.RawMessage(c.args)))
	}
	return blocks, nil
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}
