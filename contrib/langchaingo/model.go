package reboundlangchaingo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tmc/langchaingo/callbacks"
	"github.com/tmc/langchaingo/llms"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// Keys of ContentChoice.GenerationInfo that Model sets, besides langchaingo's own token counts
// (InputTokens, OutputTokens, PromptTokens, CompletionTokens, TotalTokens).
const (
	// InfoModel is the Name of the model that answered ("openai/gpt-4o").
	InfoModel = "rebound.model"
	// InfoDegraded is true when a fallback answered rather than the primary.
	InfoDegraded = "rebound.degraded"
	// InfoProvenance is the answer's llm.Provenance (who answered, what failed before).
	InfoProvenance = "rebound.provenance"
)

// Config configures a Model. Its zero value works.
type Config struct {
	// CallbacksHandler receives HandleLLMGenerateContentStart before each call,
	// HandleLLMGenerateContentEnd with the answer and HandleLLMError with a failure, as
	// langchaingo's own providers report them. Nil: none.
	CallbacksHandler callbacks.Handler
	// OnRestart is called when a streamed answer starts again (a failed attempt or a fallback
	// after chunks were already passed to the call's StreamingFunc): the chunks before are
	// void. langchaingo has no way to say so to a StreamingFunc; the ContentResponse returned
	// is always the whole answer of the attempt that completed. Nil: nothing is called.
	OnRestart func(ctx context.Context)
	// IsErrorResult says whether a tool result's content reports a failure, so that it is sent
	// as one (Anthropic's is_error): langchaingo's ToolCallResponse has no such flag. Nil:
	// content that starts with "Error:" (what the tools of Tools answer a failure with).
	IsErrorResult func(content string) bool
}

// Model is a langchaingo llms.Model whose calls go to a Rebound llm.Model: build that from
// Rebound's adapters (llm/anthropicllm, llm/openaillm, whose SDK retries are off) wrapped in
// llm.Resilient and llm.Fallback, and every call the framework makes is classified, retried by
// one layer, guarded by the breaker, paced under the rate limit, bounded by the attempt and
// stream timeouts, and falls back across providers, the answer marked (GenerationInfo's
// InfoModel, InfoDegraded, InfoProvenance). Safe for concurrent use.
type Model struct {
	m   llm.Model
	cfg Config
}

var _ llms.Model = (*Model)(nil)

// New returns the langchaingo model of m.
func New(m llm.Model) *Model { return NewWith(m, Config{}) }

// NewWith is New with a configuration.
func NewWith(m llm.Model, c Config) *Model {
	if c.IsErrorResult == nil {
		c.IsErrorResult = func(s string) bool { return strings.HasPrefix(s, "Error:") }
	}
	return &Model{m: m, cfg: c}
}

// Unwrap returns the Rebound model.
func (m *Model) Unwrap() llm.Model { return m.m }

// Call sends prompt as one user message and returns the answer's text (llms.Model's
// deprecated method).
func (m *Model) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// GenerateContent sends messages, under options, to the Rebound model: streamed when the
// options carry a StreamingFunc (which receives the text as it arrives), in one piece
// otherwise. The answer is one ContentChoice: its text, its tool calls (and FuncCall, the
// first of them, for langchaingo's older agents), the stop reason and GenerationInfo. A
// failure is Rebound's error (rebound.Classify says its class; after retries a
// *rebound.GiveUpError). Options Rebound does not model (Model, CandidateCount, N, TopK, Seed,
// JSONMode, penalties, Metadata) are ignored: the Rebound model chooses the provider and model.
func (m *Model) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	if h := m.cfg.CallbacksHandler; h != nil {
		h.HandleLLMGenerateContentStart(ctx, messages)
	}
	resp, err := m.generate(ctx, messages, opts)
	if h := m.cfg.CallbacksHandler; h != nil {
		if err != nil {
			h.HandleLLMError(ctx, err)
		} else {
			h.HandleLLMGenerateContentEnd(ctx, resp)
		}
	}
	return resp, err
}

func (m *Model) generate(ctx context.Context, messages []llms.MessageContent, opts llms.CallOptions) (*llms.ContentResponse, error) {
	req, err := RequestWith(messages, opts, m.cfg.IsErrorResult)
	if err != nil {
		return nil, &rebound.Error{Class: rebound.ClassInvalid, Message: err.Error(), Err: err}
	}
	if opts.StreamingFunc == nil {
		resp, err := m.m.Generate(ctx, req)
		if err != nil {
			return nil, err
		}
		return Response(resp), nil
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var streamErr error
	resp, err := m.m.Stream(sctx, req, func(d llm.Delta) {
		switch {
		case streamErr != nil:
		case d.Restart:
			if m.cfg.OnRestart != nil {
				m.cfg.OnRestart(ctx)
			}
		case d.Text != "":
			if e := opts.StreamingFunc(ctx, []byte(d.Text)); e != nil {
				streamErr = fmt.Errorf("StreamingFunc: %w", e)
				cancel(streamErr)
			}
		}
	})
	if streamErr != nil {
		return nil, rebound.Permanent(streamErr)
	}
	if err != nil {
		return nil, err
	}
	return Response(resp), nil
}

// Request converts langchaingo messages and call options to a Rebound request, with content
// that starts with "Error:" taken for a failed tool result (see Config.IsErrorResult).
func Request(messages []llms.MessageContent, opts llms.CallOptions) (llm.Request, error) {
	return RequestWith(messages, opts, func(s string) bool { return strings.HasPrefix(s, "Error:") })
}

// RequestWith is Request with the rule that tells a failed tool result (nil: none is).
//
// System messages become the system prompt; human and generic messages user turns; AI
// messages assistant turns (text and tool calls, in order); tool messages tool results, the
// results of consecutive tool messages in one user turn (as Anthropic requires; the OpenAI
// adapter splits them again). Tools and the deprecated Functions are offered as tools, with
// ToolChoice ("auto", "none", "required" or "any", or an llms.ToolChoice naming a function).
// MaxTokens, StopWords, and Temperature and TopP when not zero (langchaingo cannot tell an
// unset option from zero) are passed on.
func RequestWith(messages []llms.MessageContent, opts llms.CallOptions, isError func(string) bool) (llm.Request, error) {
	req := llm.Request{MaxTokens: opts.MaxTokens, StopSequences: opts.StopWords}
	if opts.Temperature != 0 {
		req.Temperature = new(opts.Temperature)
	}
	if opts.TopP != 0 {
		req.TopP = new(opts.TopP)
	}
	var system []string
	for i, mc := range messages {
		switch mc.Role {
		case llms.ChatMessageTypeSystem:
			for _, p := range mc.Parts {
				t, ok := p.(llms.TextContent)
				if !ok {
					return req, fmt.Errorf("message %d: a system message holds %T; only text", i, p)
				}
				system = append(system, t.Text)
			}
		case llms.ChatMessageTypeHuman, llms.ChatMessageTypeGeneric:
			blocks, err := userBlocks(i, mc.Parts)
			if err != nil {
				return req, err
			}
			req.Messages = append(req.Messages, rebound.NewMessage(rebound.RoleUser, blocks...))
		case llms.ChatMessageTypeAI:
			blocks, err := assistantBlocks(i, mc.Parts)
			if err != nil {
				return req, err
			}
			req.Messages = append(req.Messages, rebound.NewMessage(rebound.RoleAssistant, blocks...))
		case llms.ChatMessageTypeTool, llms.ChatMessageTypeFunction:
			var results []rebound.Block
			for _, p := range mc.Parts {
				r, ok := p.(llms.ToolCallResponse)
				if !ok {
					return req, fmt.Errorf("message %d: a tool message holds %T; only tool call responses", i, p)
				}
				if r.ToolCallID == "" {
					return req, fmt.Errorf("message %d: a tool response (of %q) answers no call id: a legacy function message cannot be sent", i, r.Name)
				}
				results = append(results, rebound.ToolResult(r.ToolCallID, r.Content, isError != nil && isError(r.Content)))
			}
			if n := len(req.Messages); n > 0 && isToolResults(req.Messages[n-1]) {
				req.Messages[n-1].Blocks = append(req.Messages[n-1].Blocks, results...)
			} else {
				req.Messages = append(req.Messages, rebound.ToolResults(results...))
			}
		default:
			return req, fmt.Errorf("message %d: role %q is not supported", i, mc.Role)
		}
	}
	req.System = strings.Join(system, "\n\n")

	for _, t := range opts.Tools {
		if t.Function == nil {
			continue
		}
		spec, err := toolSpec(*t.Function)
		if err != nil {
			return req, err
		}
		req.Tools = append(req.Tools, spec)
	}
	for _, f := range opts.Functions {
		spec, err := toolSpec(f)
		if err != nil {
			return req, err
		}
		req.Tools = append(req.Tools, spec)
	}
	choice, err := toolChoice(opts)
	if err != nil {
		return req, err
	}
	req.ToolChoice = choice
	return req, nil
}

func isToolResults(m rebound.Message) bool {
	return m.Role == rebound.RoleUser && m.Content == "" && len(m.Blocks) > 0 && len(m.ToolResultBlocks()) == len(m.Blocks)
}

func userBlocks(i int, parts []llms.ContentPart) ([]rebound.Block, error) {
	var out []rebound.Block
	for _, p := range parts {
		switch p := p.(type) {
		case llms.TextContent:
			out = append(out, rebound.Text(p.Text))
		case llms.ImageURLContent:
			if mt, data, ok := dataURL(p.URL); ok {
				out = append(out, rebound.Image(mt, data))
			} else {
				out = append(out, rebound.ImageURL("", p.URL))
			}
		case llms.BinaryContent:
			if !strings.HasPrefix(p.MIMEType, "image/") {
				return nil, fmt.Errorf("message %d: binary content of type %q: only images", i, p.MIMEType)
			}
			out = append(out, rebound.Image(p.MIMEType, base64.StdEncoding.EncodeToString(p.Data)))
		default:
			return nil, fmt.Errorf("message %d: a user message holds %T", i, p)
		}
	}
	return out, nil
}

// dataURL splits a "data:MEDIA;base64,DATA" URL.
func dataURL(u string) (mediaType, data string, ok bool) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", "", false
	}
	head, data, ok := strings.Cut(rest, ",")
	mediaType, isBase64 := strings.CutSuffix(head, ";base64")
	if !ok || !isBase64 {
		return "", "", false
	}
	return mediaType, data, true
}

func assistantBlocks(i int, parts []llms.ContentPart) ([]rebound.Block, error) {
	var out []rebound.Block
	for _, p := range parts {
		switch p := p.(type) {
		case llms.TextContent:
			if p.Text != "" {
				out = append(out, rebound.Text(p.Text))
			}
		case llms.ToolCall:
			if p.FunctionCall == nil {
				return nil, fmt.Errorf("message %d: tool call %q has no function", i, p.ID)
			}
			out = append(out, rebound.ToolUse(p.ID, p.FunctionCall.Name, objectInput(p.FunctionCall.Arguments)))
		default:
			return nil, fmt.Errorf("message %d: an AI message holds %T", i, p)
		}
	}
	return out, nil
}

// objectInput returns a tool call's arguments as a JSON object: as they are when they are one,
// {} when empty, else {"input": the arguments as a string}.
func objectInput(args string) json.RawMessage {
	s := strings.TrimSpace(args)
	if s == "" {
		return json.RawMessage(`{}`)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &obj) == nil && obj != nil {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(map[string]string{"input": args})
	return b
}

func toolSpec(f llms.FunctionDefinition) (llm.Tool, error) {
	t := llm.Tool{Name: f.Name, Description: f.Description}
	if f.Parameters != nil {
		var b []byte
		switch p := f.Parameters.(type) {
		case json.RawMessage:
			b = p
		case []byte:
			b = p
		case string:
			b = []byte(p)
		default:
			var err error
			if b, err = json.Marshal(p); err != nil {
				return t, fmt.Errorf("tool %q: parameters: %w", f.Name, err)
			}
		}
		t.InputSchema = b
	}
	return t, nil
}

func toolChoice(opts llms.CallOptions) (llm.ToolChoice, error) {
	if opts.FunctionCallBehavior == llms.FunctionCallBehaviorNone {
		return llm.ToolChoice{Mode: llm.ToolChoiceNone}, nil
	}
	var c llms.ToolChoice
	switch v := opts.ToolChoice.(type) {
	case nil:
		return llm.ToolChoice{}, nil
	case string:
		c.Type = v
	case llms.ToolChoice:
		c = v
	case *llms.ToolChoice:
		if v != nil {
			c = *v
		}
	default:
		return llm.ToolChoice{}, fmt.Errorf("tool choice of type %T: use a string or an llms.ToolChoice", v)
	}
	switch c.Type {
	case "", "auto":
		return llm.ToolChoice{}, nil
	case "none":
		return llm.ToolChoice{Mode: llm.ToolChoiceNone}, nil
	case "required", "any":
		return llm.ToolChoice{Mode: llm.ToolChoiceAny}, nil
	case "function", "tool":
		if c.Function == nil || c.Function.Name == "" {
			return llm.ToolChoice{}, errors.New("tool choice names no function")
		}
		return llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: c.Function.Name}, nil
	}
	return llm.ToolChoice{}, fmt.Errorf("tool choice %q: use auto, none, required, any or function", c.Type)
}

// Response converts a Rebound answer to langchaingo's: one ContentChoice with the text, the
// tool calls (Arguments are the call's JSON input), FuncCall (the first call), the stop reason
// and GenerationInfo (token counts and the keys InfoModel, InfoDegraded, InfoProvenance).
func Response(r *llm.Response) *llms.ContentResponse {
	ch := &llms.ContentChoice{
		Content:    r.Text,
		StopReason: string(r.StopReason),
		GenerationInfo: map[string]any{
			"InputTokens": r.Usage.InputTokens, "OutputTokens": r.Usage.OutputTokens,
			"PromptTokens": r.Usage.InputTokens, "CompletionTokens": r.Usage.OutputTokens,
			"TotalTokens": r.Usage.InputTokens + r.Usage.OutputTokens,
			InfoModel:     r.Provenance.Model, InfoDegraded: r.Provenance.Degraded, InfoProvenance: r.Provenance,
		},
	}
	for _, c := range r.ToolCalls() {
		ch.ToolCalls = append(ch.ToolCalls, llms.ToolCall{
			ID: c.ID, Type: "function",
			FunctionCall: &llms.FunctionCall{Name: c.Name, Arguments: string(c.Input)},
		})
	}
	if len(ch.ToolCalls) > 0 {
		fc := *ch.ToolCalls[0].FunctionCall
		ch.FuncCall = &fc
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{ch}}
}

// Provenance returns the llm.Provenance of an answer of Model (who answered, whether it was a
// fallback, what failed before), and whether resp carries one.
func Provenance(resp *llms.ContentResponse) (llm.Provenance, bool) {
	if resp == nil || len(resp.Choices) == 0 || resp.Choices[0] == nil {
		return llm.Provenance{}, false
	}
	p, ok := resp.Choices[0].GenerationInfo[InfoProvenance].(llm.Provenance)
	return p, ok
}
