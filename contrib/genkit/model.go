package reboundgenkit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// Keys of the Metadata of every model message (ai.Message) the Model answers with.
const (
	// MetaModel is the Name of the model that answered ("openai/gpt-4o").
	MetaModel = "rebound.model"
	// MetaDegraded is true when a fallback answered rather than the primary.
	MetaDegraded = "rebound.degraded"
	// MetaFailures lists what failed before the answer, "MODEL: CLASS" each.
	MetaFailures = "rebound.failures"
)

// Config configures a Model. Its zero value works.
type Config struct {
	// Options are the Genkit model options (label, supports). Nil: multi-turn, tools, tool
	// choice, a system role and media supported; no native constrained output (Genkit then
	// puts an output schema's instructions in the prompt).
	Options *ai.ModelOptions
	// OnRestart is called when a streamed answer starts again (a failed attempt or a fallback
	// after chunks were already passed to the stream callback): the chunks before are void.
	// Genkit has no way to say so to a stream callback; the response is always the whole answer
	// of the attempt that completed. Nil: nothing is called.
	OnRestart func(ctx context.Context)
	// IsErrorResult says whether a tool response reports a failure, so that it is sent as one
	// (Anthropic's is_error): Genkit's ToolResponse has no such flag. Nil: an output that is a
	// string starting with "Error:" (what the tools of Tools answer a failure with).
	IsErrorResult func(r *ai.ToolResponse) bool
}

// DefineModel registers in g, under name, a Genkit model whose calls go to the Rebound model m:
// build m from Rebound's adapters (llm/anthropicllm, llm/openaillm, whose SDK retries are off)
// wrapped in llm.Resilient and llm.Fallback, and every model call of Genkit's generate loop is
// classified, retried by one layer, guarded by the breaker, paced under the rate limit, bounded
// by the attempt and stream timeouts, and falls back across providers, each answer marked
// (Metadata MetaModel, MetaDegraded, MetaFailures of the model message). Use it as any model:
// ai.WithModel(model), or ai.WithModelName(name).
func DefineModel(g *genkit.Genkit, name string, m llm.Model, c Config) ai.Model {
	opts := c.Options
	if opts == nil {
		opts = &ai.ModelOptions{Label: m.Name(), Supports: &ai.ModelSupports{
			Multiturn: true, Tools: true, ToolChoice: true, SystemRole: true, Media: true,
			Constrained: ai.ConstrainedSupportNone,
		}}
	}
	isError := c.IsErrorResult
	if isError == nil {
		isError = func(r *ai.ToolResponse) bool {
			s, ok := r.Output.(string)
			return ok && strings.HasPrefix(s, "Error:")
		}
	}
	return genkit.DefineModel(g, name, opts, func(ctx context.Context, req *ai.ModelRequest, cb ai.ModelStreamCallback) (*ai.ModelResponse, error) {
		return generate(ctx, m, c.OnRestart, isError, req, cb)
	})
}

func generate(ctx context.Context, m llm.Model, onRestart func(context.Context), isError func(*ai.ToolResponse) bool,
	req *ai.ModelRequest, cb ai.ModelStreamCallback) (*ai.ModelResponse, error) {
	r, err := RequestWith(req, isError)
	if err != nil {
		return nil, &rebound.Error{Class: rebound.ClassInvalid, Message: err.Error(), Err: err}
	}
	var resp *llm.Response
	if cb == nil {
		resp, err = m.Generate(ctx, r)
	} else {
		sctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		var cbErr error
		resp, err = m.Stream(sctx, r, func(d llm.Delta) {
			switch {
			case cbErr != nil:
			case d.Restart:
				if onRestart != nil {
					onRestart(ctx)
				}
			case d.Text != "":
				if e := cb(ctx, &ai.ModelResponseChunk{Role: ai.RoleModel, Content: []*ai.Part{ai.NewTextPart(d.Text)}}); e != nil {
					cbErr = fmt.Errorf("stream callback: %w", e)
					cancel(cbErr)
				}
			}
		})
		if cbErr != nil {
			return nil, rebound.Permanent(cbErr)
		}
	}
	if err != nil {
		return nil, err
	}
	out, err := Response(resp)
	if err != nil {
		return nil, err
	}
	out.Request = req
	return out, nil
}

// Request converts a Genkit model request to a Rebound request, with a tool response whose
// output is a string starting with "Error:" taken for a failed one.
func Request(req *ai.ModelRequest) (llm.Request, error) {
	return RequestWith(req, func(r *ai.ToolResponse) bool {
		s, ok := r.Output.(string)
		return ok && strings.HasPrefix(s, "Error:")
	})
}

// RequestWith is Request with the rule that tells a failed tool response (nil: none is).
//
// System messages become the system prompt; user messages user turns (text and media); model
// messages assistant turns (text and tool requests, in order, each request's Ref its call id;
// reasoning parts are left out); tool messages one user turn of tool results. Tools are
// offered with their input schemas, ToolChoice as auto, required or none. A config that is an
// ai.GenerationCommonConfig gives MaxOutputTokens, StopSequences, and Temperature and TopP when
// not zero.
func RequestWith(req *ai.ModelRequest, isError func(*ai.ToolResponse) bool) (llm.Request, error) {
	var out llm.Request
	switch c := req.Config.(type) {
	case *ai.GenerationCommonConfig:
		if c != nil {
			commonConfig(&out, *c)
		}
	case ai.GenerationCommonConfig:
		commonConfig(&out, c)
	}
	var system []string
	for i, msg := range req.Messages {
		if msg == nil {
			continue
		}
		switch msg.Role {
		case ai.RoleSystem:
			system = append(system, msg.Text())
		case ai.RoleUser:
			var blocks []rebound.Block
			for _, p := range msg.Content {
				switch {
				case p.IsText():
					blocks = append(blocks, rebound.Text(p.Text))
				case p.IsMedia():
					if mt, data, ok := dataURL(p.Text); ok {
						blocks = append(blocks, rebound.Image(orDefault(p.ContentType, mt), data))
					} else {
						blocks = append(blocks, rebound.ImageURL(p.ContentType, p.Text))
					}
				default:
					return out, fmt.Errorf("message %d: a user message holds a part of kind %d", i, p.Kind)
				}
			}
			out.Messages = append(out.Messages, rebound.NewMessage(rebound.RoleUser, blocks...))
		case ai.RoleModel:
			var blocks []rebound.Block
			for _, p := range msg.Content {
				switch {
				case p.IsText():
					if p.Text != "" {
						blocks = append(blocks, rebound.Text(p.Text))
					}
				case p.IsToolRequest():
					in, err := json.Marshal(p.ToolRequest.Input)
					if err != nil || p.ToolRequest.Input == nil {
						in = json.RawMessage(`{}`)
					}
					blocks = append(blocks, rebound.ToolUse(p.ToolRequest.Ref, p.ToolRequest.Name, in))
				case p.IsReasoning():
				default:
					return out, fmt.Errorf("message %d: a model message holds a part of kind %d", i, p.Kind)
				}
			}
			out.Messages = append(out.Messages, rebound.NewMessage(rebound.RoleAssistant, blocks...))
		case ai.RoleTool:
			var results []rebound.Block
			for _, p := range msg.Content {
				if !p.IsToolResponse() {
					return out, fmt.Errorf("message %d: a tool message holds a part of kind %d", i, p.Kind)
				}
				r := p.ToolResponse
				text, err := outputText(r)
				if err != nil {
					return out, fmt.Errorf("message %d: tool %q: %w", i, r.Name, err)
				}
				results = append(results, rebound.ToolResult(r.Ref, text, isError != nil && isError(r)))
			}
			out.Messages = append(out.Messages, rebound.ToolResults(results...))
		default:
			return out, fmt.Errorf("message %d: role %q is not supported", i, msg.Role)
		}
	}
	out.System = strings.Join(system, "\n\n")
	for _, t := range req.Tools {
		spec := llm.Tool{Name: t.Name, Description: t.Description}
		if t.InputSchema != nil {
			b, err := json.Marshal(t.InputSchema)
			if err != nil {
				return out, fmt.Errorf("tool %q: input schema: %w", t.Name, err)
			}
			spec.InputSchema = b
		}
		out.Tools = append(out.Tools, spec)
	}
	switch req.ToolChoice {
	case "", ai.ToolChoiceAuto:
	case ai.ToolChoiceRequired:
		out.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceAny}
	case ai.ToolChoiceNone:
		out.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceNone}
	default:
		return out, fmt.Errorf("tool choice %q: use auto, required or none", req.ToolChoice)
	}
	return out, nil
}

func commonConfig(out *llm.Request, c ai.GenerationCommonConfig) {
	out.MaxTokens = c.MaxOutputTokens
	out.StopSequences = c.StopSequences
	if c.Temperature != 0 {
		out.Temperature = new(c.Temperature)
	}
	if c.TopP != 0 {
		out.TopP = new(c.TopP)
	}
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

// outputText is a tool response as the model is sent it: its output (a string as it is, any
// other value as JSON), then the text of its content parts.
func outputText(r *ai.ToolResponse) (string, error) {
	var b strings.Builder
	switch o := r.Output.(type) {
	case nil:
	case string:
		b.WriteString(o)
	default:
		j, err := json.Marshal(o)
		if err != nil {
			return "", err
		}
		b.Write(j)
	}
	for _, p := range r.Content {
		if p != nil && p.IsText() {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
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

// Response converts a Rebound answer to Genkit's: a model message of the text and the tool
// requests (each Ref the call id, Input the decoded JSON), marked in its Metadata (MetaModel,
// MetaDegraded, MetaFailures), the finish reason and the usage.
func Response(r *llm.Response) (*ai.ModelResponse, error) {
	msg := &ai.Message{Role: ai.RoleModel, Metadata: Marks(r.Provenance)}
	if len(r.Blocks) == 0 && r.Text != "" {
		msg.Content = append(msg.Content, ai.NewTextPart(r.Text))
	}
	for _, b := range r.Blocks {
		switch b.Type {
		case rebound.BlockText:
			msg.Content = append(msg.Content, ai.NewTextPart(b.Text))
		case rebound.BlockToolUse:
			var in any
			if err := json.Unmarshal(b.Input, &in); err != nil {
				return nil, &rebound.Error{Class: rebound.ClassMalformed, Message: fmt.Sprintf("tool call %s input: %v", b.ID, err), Err: err}
			}
			msg.Content = append(msg.Content, ai.NewToolRequestPart(&ai.ToolRequest{Name: b.Name, Ref: b.ID, Input: in}))
		}
	}
	fr := ai.FinishReasonStop
	switch r.StopReason {
	case llm.StopMaxTokens:
		fr = ai.FinishReasonLength
	case llm.StopEndTurn, llm.StopSequence, llm.StopToolUse:
	default:
		fr = ai.FinishReasonOther
	}
	return &ai.ModelResponse{
		Message: msg, FinishReason: fr,
		Usage: &ai.GenerationUsage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens,
			TotalTokens: r.Usage.InputTokens + r.Usage.OutputTokens},
	}, nil
}

// Marks are the Metadata of a model message that say where it came from.
func Marks(p llm.Provenance) map[string]any {
	m := map[string]any{MetaModel: p.Model, MetaDegraded: p.Degraded}
	if len(p.Failures) > 0 {
		fs := make([]string, len(p.Failures))
		for i, f := range p.Failures {
			fs[i] = f.Model + ": " + f.Class.String()
		}
		m[MetaFailures] = fs
	}
	return m
}

// AnsweredBy returns the model that answered msg (a model message of a Model) and whether it was
// a fallback; ok is false for a message without Rebound's marks.
func AnsweredBy(msg *ai.Message) (model string, degraded, ok bool) {
	if msg == nil {
		return "", false, false
	}
	model, ok = msg.Metadata[MetaModel].(string)
	degraded, _ = msg.Metadata[MetaDegraded].(bool)
	return model, degraded, ok
}
