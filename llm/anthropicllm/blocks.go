package anthropicllm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// CallIDPrefix starts the id a tool call is sent under when its own id is not one Anthropic
// takes (llm.MapCallID).
const CallIDPrefix = "toolu_rb_"

// validCallID is Anthropic's rule for tool_use ids: ^[a-zA-Z0-9_-]+$.
func validCallID(id string) bool {
	if id == "" || len(id) > 256 {
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

func callID(id string) string { return llm.MapCallID(id, CallIDPrefix, validCallID) }

// messages translates the neutral conversation into Anthropic's: system messages join the
// system prompt; consecutive messages of one role become one turn (Anthropic alternates), with
// a user turn's tool results first; tool ids another provider made are mapped (callID); opaque
// blocks of other providers are dropped, Anthropic's own are sent back verbatim.
func messages(system string, msgs []rebound.Message) (string, []anthropic.MessageParam) {
	var out []anthropic.MessageParam
	var role rebound.Role
	var results, rest []anthropic.ContentBlockParamUnion
	flush := func() {
		blocks := append(results, rest...)
		results, rest = nil, nil
		if len(blocks) == 0 {
			return
		}
		if role == rebound.RoleAssistant {
			out = append(out, anthropic.NewAssistantMessage(blocks...))
		} else {
			out = append(out, anthropic.NewUserMessage(blocks...))
		}
	}
	for _, msg := range msgs {
		if msg.Role == rebound.RoleSystem {
			if t := msg.Text(); t != "" {
				if system != "" {
					system += "\n\n"
				}
				system += t
			}
			continue
		}
		r := msg.Role
		if r != rebound.RoleAssistant {
			r = rebound.RoleUser
		}
		if r != role {
			flush()
			role = r
		}
		for _, b := range msg.Parts() {
			if b.Type == rebound.BlockToolResult {
				results = append(results, toolResult(b))
			} else if p, ok := blockParam(b); ok {
				rest = append(rest, p)
			}
		}
	}
	flush()
	return system, out
}

// blockParam is the block as Anthropic takes it; ok is false for a block it cannot take
// (another provider's opaque block, an empty text).
func blockParam(b rebound.Block) (anthropic.ContentBlockParamUnion, bool) {
	switch b.Type {
	case rebound.BlockText:
		if b.Text == "" {
			return anthropic.ContentBlockParamUnion{}, false
		}
		return anthropic.NewTextBlock(b.Text), true
	case rebound.BlockToolUse:
		input := b.Input
		if len(input) == 0 {
			input = json.RawMessage(`{}`)
		}
		return anthropic.NewToolUseBlock(callID(b.ID), input, b.Name), true
	case rebound.BlockImage:
		if img, ok := imageParam(b); ok {
			return anthropic.ContentBlockParamUnion{OfImage: img}, true
		}
	case rebound.BlockOpaque:
		if b.Provider == Provider && len(b.Raw) > 0 {
			// Sent as it came (thinking with its signature, redacted thinking, server tool
			// blocks): the override writes Raw in place of the variant's fields.
			v := param.Override[anthropic.ThinkingBlockParam](b.Raw)
			return anthropic.ContentBlockParamUnion{OfThinking: &v}, true
		}
	}
	return anthropic.ContentBlockParamUnion{}, false
}

func imageParam(b rebound.Block) (*anthropic.ImageBlockParam, bool) {
	var img anthropic.ImageBlockParam
	switch {
	case b.Data != "":
		img.Source.OfBase64 = &anthropic.Base64ImageSourceParam{
			Data: b.Data, MediaType: anthropic.Base64ImageSourceMediaType(b.MediaType),
		}
	case b.URL != "":
		img.Source.OfURL = &anthropic.URLImageSourceParam{URL: b.URL}
	default:
		return nil, false
	}
	return &img, true
}

func toolResult(b rebound.Block) anthropic.ContentBlockParamUnion {
	r := anthropic.ToolResultBlockParam{ToolUseID: callID(b.CallID)}
	if b.IsError {
		r.IsError = param.NewOpt(true)
	}
	for _, c := range b.Content {
		switch c.Type {
		case rebound.BlockText:
			r.Content = append(r.Content, anthropic.ToolResultBlockParamContentUnion{OfText: &anthropic.TextBlockParam{Text: c.Text}})
		case rebound.BlockImage:
			if img, ok := imageParam(c); ok {
				r.Content = append(r.Content, anthropic.ToolResultBlockParamContentUnion{OfImage: img})
			}
		}
	}
	return anthropic.ContentBlockParamUnion{OfToolResult: &r}
}

// tools translates the tool definitions, the tool choice and the parallel-call switch.
func tools(p *anthropic.MessageNewParams, req llm.Request) {
	for _, t := range req.Tools {
		tp := anthropic.ToolParam{Name: t.Name}
		if t.Description != "" {
			tp.Description = param.NewOpt(t.Description)
		}
		if len(t.InputSchema) > 0 {
			tp.InputSchema = param.Override[anthropic.ToolInputSchemaParam](t.InputSchema)
		}
		p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: &tp})
	}
	var noParallel param.Opt[bool]
	if req.DisableParallelToolCalls {
		noParallel = param.NewOpt(true)
	}
	switch req.ToolChoice.Mode {
	case llm.ToolChoiceAny:
		p.ToolChoice.OfAny = &anthropic.ToolChoiceAnyParam{DisableParallelToolUse: noParallel}
	case llm.ToolChoiceTool:
		p.ToolChoice.OfTool = &anthropic.ToolChoiceToolParam{Name: req.ToolChoice.Name, DisableParallelToolUse: noParallel}
	case llm.ToolChoiceNone:
		if len(req.Tools) > 0 {
			p.ToolChoice.OfNone = &anthropic.ToolChoiceNoneParam{}
		}
	default:
		if req.DisableParallelToolCalls && len(req.Tools) > 0 {
			p.ToolChoice.OfAuto = &anthropic.ToolChoiceAutoParam{DisableParallelToolUse: noParallel}
		}
	}
}

// extraOptions sets temperature and top_p (this SDK's MessageNewParams has no field for them)
// and merges req.Extra["anthropic"] into the request body, field by field, last.
func extraOptions(req llm.Request) ([]option.RequestOption, error) {
	fields, err := llm.ExtraFields(req, Provider)
	if err != nil {
		return nil, &rebound.Error{Class: rebound.ClassInvalid, Provider: Provider, Message: err.Error(), Err: err}
	}
	opts := make([]option.RequestOption, 0, len(fields)+2)
	if req.Temperature != nil {
		opts = append(opts, option.WithJSONSet("temperature", *req.Temperature))
	}
	if req.TopP != nil {
		opts = append(opts, option.WithJSONSet("top_p", *req.TopP))
	}
	for _, f := range fields {
		opts = append(opts, option.WithJSONSet(f.Path(), f.Value))
	}
	return opts, nil
}

// content turns the answer's blocks into neutral blocks: text, tool calls (whose input must be
// a JSON object) and, verbatim, everything else (thinking, redacted thinking, server tools).
// partial holds the input_json_delta text of a streamed answer's tool calls by block index: the
// SDK's accumulator replaces an input that is not JSON with {}, so the stream's own text is
// checked.
func content(msg *anthropic.Message, partial map[int][]byte, header http.Header) (string, []rebound.Block, error) {
	var text strings.Builder
	var blocks []rebound.Block
	allText := true
	for i, b := range msg.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			blocks = append(blocks, rebound.Text(b.Text))
		case "tool_use":
			allText = false
			input := b.Input
			if p, ok := partial[i]; ok {
				input = p
				if len(input) == 0 {
					input = json.RawMessage(`{}`)
				}
			}
			if !isObject(input) {
				return "", nil, &rebound.Error{
					Class: rebound.ClassMalformed, Provider: Provider, Status: http.StatusOK,
					Message:   fmt.Sprintf("tool call %s (%s): input is not a JSON object (truncated or not JSON): %.80q", b.ID, b.Name, input),
					RequestID: header.Get("request-id"),
				}
			}
			blocks = append(blocks, rebound.ToolUse(b.ID, b.Name, append(json.RawMessage(nil), input...)))
		default:
			allText = false
			blocks = append(blocks, rebound.Opaque(Provider, json.RawMessage(b.RawJSON())))
		}
	}
	if allText {
		blocks = nil
	}
	return text.String(), blocks, nil
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
