package reboundeino

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/schema"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// Keys of the Extra of the messages a ChatModel answers with.
const (
	// ExtraModel is the Name of the model that answered ("openai/gpt-4o").
	ExtraModel = "rebound.model"
	// ExtraDegraded is true when a fallback answered rather than the primary.
	ExtraDegraded = "rebound.degraded"
	// ExtraFailures are the models that failed before the answer, in order, as
	// "MODEL: CLASS" strings (llm.Provenance.Failures), when any did.
	ExtraFailures = "rebound.failures"
)

// Config configures a ChatModel. Its zero value works.
type Config struct {
	// IsErrorResult says whether a tool message's content reports a failure, so that it is
	// sent as one (Anthropic's is_error): Eino's tool messages carry no such flag. Nil: content
	// that starts with "Error:" (what Middleware's error results start with).
	IsErrorResult func(content string) bool
	// OnRestart is called when a streamed answer starts again (a failed attempt, or a fallback,
	// after chunks were already sent on the stream): the chunks before are void. An Eino stream
	// cannot take chunks back, so a consumer that shows the text as it arrives is told here.
	// Nil: nothing is called.
	OnRestart func(ctx context.Context)
	// MaxTokens bounds each answer when the call's options do not (model.WithMaxTokens). Zero:
	// llm.DefaultMaxTokens.
	MaxTokens int
}

// ChatModel is Eino's model.ToolCallingChatModel over a Rebound llm.Model: build that from
// Rebound's adapters (llm/anthropicllm, llm/openaillm, whose SDK retries are off) wrapped in
// llm.Resilient and llm.Fallback, and every call Eino makes is classified, retried by one layer,
// guarded by the breaker, paced under the rate limit, bounded by the attempt and stream timeouts,
// and falls back across providers in the middle of a tool conversation, the answer marked
// (Extra's ExtraModel, ExtraDegraded, ExtraFailures). Safe for concurrent use; WithTools
// returns a new ChatModel.
type ChatModel struct {
	m     llm.Model
	cfg   Config
	tools []llm.Tool
}

var _ model.ToolCallingChatModel = (*ChatModel)(nil)

// NewModel returns the Eino chat model of m.
func NewModel(m llm.Model) *ChatModel { return NewModelWith(m, Config{}) }

// NewModelWith is NewModel with a configuration.
func NewModelWith(m llm.Model, c Config) *ChatModel {
	if c.IsErrorResult == nil {
		c.IsErrorResult = func(s string) bool { return strings.HasPrefix(s, "Error:") }
	}
	return &ChatModel{m: m, cfg: c}
}

// Unwrap returns the Rebound model.
func (c *ChatModel) Unwrap() llm.Model { return c.m }

// GetType names the component for Eino's callbacks: "Rebound".
func (c *ChatModel) GetType() string { return "Rebound" }

// WithTools returns a ChatModel with tools bound (the receiver is unchanged). A tool whose
// parameters cannot be made a JSON Schema is an error.
func (c *ChatModel) WithTools(tools []*schema.ToolInfo) (model.ToolCallingChatModel, error) {
	ts, err := toolsOf(tools)
	if err != nil {
		return nil, err
	}
	n := *c
	n.tools = ts
	return &n, nil
}

// Generate sends the conversation to the Rebound model and returns its answer: text and tool
// calls, ResponseMeta (finish reason, usage) and the provenance in Extra. A failure is the
// Rebound model's error: a *rebound.GiveUpError or a classified *rebound.Error (rebound.Classify
// tells its class), after the retries and the fallbacks.
func (c *ChatModel) Generate(ctx context.Context, input []*schema.Message, opts ...model.Option) (*schema.Message, error) {
	req, err := c.request(input, opts)
	if err != nil {
		return nil, err
	}
	resp, err := c.m.Generate(ctx, req)
	if err != nil {
		return nil, err
	}
	return message(resp), nil
}

// Stream sends the conversation to the Rebound model's Stream: under llm.Resilient the attempt
// is bounded by its stream, first-token and idle timeouts, and a stalled or cut stream is retried
// or falls back. The answer's text arrives in chunks as the model writes it; one last chunk
// carries the tool calls, ResponseMeta and Extra (so Eino's first-chunk tool-call check misses
// an answer that starts with text: use StreamToolCallChecker). A failure after the stream was
// returned is the stream's error. Config.OnRestart is told when chunks already sent are void.
func (c *ChatModel) Stream(ctx context.Context, input []*schema.Message, opts ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	req, err := c.request(input, opts)
	if err != nil {
		return nil, err
	}
	sr, sw := schema.Pipe[*schema.Message](16)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		defer sw.Close()
		closed := false
		resp, err := c.m.Stream(ctx, req, func(d llm.Delta) {
			if closed {
				return
			}
			if d.Restart {
				if c.cfg.OnRestart != nil {
					c.cfg.OnRestart(ctx)
				}
				return
			}
			if d.Text == "" {
				return
			}
			if closed = sw.Send(&schema.Message{Role: schema.Assistant, Content: d.Text}, nil); closed {
				cancel() // the reader went away: stop the call
			}
		})
		if closed {
			return
		}
		if err != nil {
			sw.Send(nil, err)
			return
		}
		last := message(resp)
		last.Content = "" // sent in the chunks
		sw.Send(last, nil)
	}()
	return sr, nil
}

// StreamToolCallChecker reports whether a streamed answer calls a tool, reading the whole
// stream (and closing it). Set it as react.AgentConfig.StreamToolCallChecker: a ChatModel's
// stream sends the tool calls in its last chunk, after any text, and Eino's default looks at the
// first chunk only.
func StreamToolCallChecker(_ context.Context, sr *schema.StreamReader[*schema.Message]) (bool, error) {
	defer sr.Close()
	calls := false
	for {
		m, err := sr.Recv()
		if errors.Is(err, io.EOF) {
			return calls, nil
		}
		if err != nil {
			return false, err
		}
		if m != nil && len(m.ToolCalls) > 0 {
			calls = true
		}
	}
}

// request makes the Rebound request of an Eino call.
func (c *ChatModel) request(input []*schema.Message, opts []model.Option) (llm.Request, error) {
	o := model.GetCommonOptions(&model.Options{}, opts...)
	req := llm.Request{Tools: c.tools, MaxTokens: c.cfg.MaxTokens}
	if o.Tools != nil {
		ts, err := toolsOf(o.Tools)
		if err != nil {
			return llm.Request{}, err
		}
		req.Tools = ts
	}
	if o.MaxTokens != nil {
		req.MaxTokens = *o.MaxTokens
	}
	if o.Temperature != nil {
		req.Temperature = new(float64(*o.Temperature))
	}
	if o.TopP != nil {
		req.TopP = new(float64(*o.TopP))
	}
	req.StopSequences = o.Stop
	if o.ToolChoice != nil {
		switch *o.ToolChoice {
		case schema.ToolChoiceForbidden:
			req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceNone}
		case schema.ToolChoiceForced:
			req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceAny}
			if len(o.AllowedToolNames) == 1 {
				req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: o.AllowedToolNames[0]}
			}
		}
	}
	msgs, system, err := c.messages(input)
	if err != nil {
		return llm.Request{}, err
	}
	req.System, req.Messages = system, msgs
	return req, nil
}

// messages converts an Eino conversation: system messages make the system prompt; an
// assistant message's tool calls become tool-use blocks; the tool messages that follow it
// become one message of tool-result blocks, in their order.
func (c *ChatModel) messages(input []*schema.Message) ([]llm.Message, string, error) {
	var system []string
	var out []llm.Message
	var results []rebound.Block
	flush := func() {
		if len(results) > 0 {
			out = append(out, rebound.ToolResults(results...))
			results = nil
		}
	}
	for i, m := range input {
		if m == nil {
			continue
		}
		if m.Role != schema.Tool {
			flush()
		}
		switch m.Role {
		case schema.System:
			system = append(system, text(m))
		case schema.User:
			out = append(out, rebound.User(text(m)))
		case schema.Assistant:
			if len(m.ToolCalls) == 0 {
				out = append(out, rebound.Assistant(text(m)))
				continue
			}
			var bs []rebound.Block
			if t := text(m); t != "" {
				bs = append(bs, rebound.Text(t))
			}
			for _, tc := range m.ToolCalls {
				args := strings.TrimSpace(tc.Function.Arguments)
				if args == "" {
					args = "{}"
				}
				if !json.Valid([]byte(args)) {
					return nil, "", invalid(fmt.Sprintf("message %d: tool call %s (%s): arguments are not JSON", i, tc.ID, tc.Function.Name))
				}
				bs = append(bs, rebound.ToolUse(tc.ID, tc.Function.Name, json.RawMessage(args)))
			}
			out = append(out, rebound.NewMessage(rebound.RoleAssistant, bs...))
		case schema.Tool:
			t := text(m)
			results = append(results, rebound.ToolResult(m.ToolCallID, t, c.cfg.IsErrorResult(t)))
		default:
			return nil, "", invalid(fmt.Sprintf("message %d: role %q", i, m.Role))
		}
	}
	flush()
	return out, strings.Join(system, "\n\n"), nil
}

// text is a message's text: Content, or the text parts of its multi-part content.
func text(m *schema.Message) string {
	if m.Content != "" {
		return m.Content
	}
	var parts []string
	for _, p := range m.UserInputMultiContent {
		if p.Type == schema.ChatMessagePartTypeText {
			parts = append(parts, p.Text)
		}
	}
	for _, p := range m.AssistantGenMultiContent {
		if p.Type == schema.ChatMessagePartTypeText {
			parts = append(parts, p.Text)
		}
	}
	for _, p := range m.MultiContent {
		if p.Type == schema.ChatMessagePartTypeText {
			parts = append(parts, p.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func invalid(msg string) error {
	return &rebound.Error{Class: rebound.ClassInvalid, Provider: "eino", Message: msg}
}

// toolsOf converts Eino tool infos.
func toolsOf(infos []*schema.ToolInfo) ([]llm.Tool, error) {
	ts := make([]llm.Tool, 0, len(infos))
	for _, info := range infos {
		if info == nil {
			continue
		}
		sc := json.RawMessage(`{"type":"object","properties":{}}`)
		if info.ParamsOneOf != nil {
			js, err := info.ToJSONSchema()
			if err != nil {
				return nil, fmt.Errorf("reboundeino: tool %q: %w", info.Name, err)
			}
			if js != nil {
				b, err := json.Marshal(js)
				if err != nil {
					return nil, fmt.Errorf("reboundeino: tool %q: schema: %w", info.Name, err)
				}
				sc = b
			}
		}
		ts = append(ts, llm.Tool{Name: info.Name, Description: info.Desc, InputSchema: sc})
	}
	return ts, nil
}

// message is the Eino message of an answer.
func message(resp *llm.Response) *schema.Message {
	m := &schema.Message{Role: schema.Assistant, Content: resp.Text}
	for _, b := range resp.ToolCalls() {
		args := string(b.Input)
		if args == "" {
			args = "{}"
		}
		m.ToolCalls = append(m.ToolCalls, schema.ToolCall{ID: b.ID, Type: "function", Function: schema.FunctionCall{Name: b.Name, Arguments: args}})
	}
	m.ResponseMeta = &schema.ResponseMeta{
		FinishReason: string(resp.StopReason),
		Usage: &schema.TokenUsage{
			PromptTokens: resp.Usage.InputTokens, CompletionTokens: resp.Usage.OutputTokens,
			TotalTokens: resp.Usage.InputTokens + resp.Usage.OutputTokens,
		},
	}
	m.Extra = map[string]any{ExtraModel: resp.Provenance.Model, ExtraDegraded: resp.Provenance.Degraded}
	if fs := resp.Provenance.Failures; len(fs) > 0 {
		ss := make([]string, len(fs))
		for i, f := range fs {
			ss[i] = f.Model + ": " + f.Class.String()
		}
		m.Extra[ExtraFailures] = ss
	}
	return m
}
