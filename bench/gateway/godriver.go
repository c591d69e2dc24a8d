package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// goDriver calls through anthropic-sdk-go v2 and openai-go v3 with their retries off.
type goDriver struct{ hc *http.Client }

func newGoDriver() *goDriver {
	return &goDriver{hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}}
}

func (d *goDriver) Name() string { return "go" }
func (d *goDriver) Close() error { d.hc.CloseIdleConnections(); return nil }

func (d *goDriver) Do(ctx context.Context, c Call) Result {
	if c.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.TimeoutMS)*time.Millisecond)
		defer cancel()
	}
	start := time.Now()
	var r Result
	if c.Provider == "openai" {
		r = d.openai(ctx, c, start)
	} else {
		r = d.anthropic(ctx, c, start)
	}
	r.ID = c.ID
	r.ElapsedMS = ms(time.Since(start))
	if r.Err != nil {
		r.OK = false
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func headersOf(resp *http.Response) map[string]string {
	if resp == nil {
		return nil
	}
	h := make(map[string]string, len(resp.Header))
	for k, v := range resp.Header {
		if len(v) > 0 {
			h[strings.ToLower(k)] = v[0]
		}
	}
	return h
}

func (d *goDriver) anthropic(ctx context.Context, c Call, start time.Time) Result {
	client := anthropic.NewClient(aoption.WithBaseURL(c.BaseURL), aoption.WithAPIKey(c.APIKey),
		aoption.WithMaxRetries(0), aoption.WithHTTPClient(d.hc))
	p := anthropic.MessageNewParams{Model: anthropic.Model(c.Model), MaxTokens: int64(c.MaxTokens)}
	if c.System != "" {
		p.System = []anthropic.TextBlockParam{{Text: c.System}}
	}
	for _, m := range c.Messages {
		var blocks []anthropic.ContentBlockParamUnion
		for _, tr := range m.ToolResults {
			blocks = append(blocks, anthropic.NewToolResultBlock(tr.ID, tr.Content, false))
		}
		if m.Text != "" {
			blocks = append(blocks, anthropic.NewTextBlock(m.Text))
		}
		for _, tc := range m.ToolCalls {
			blocks = append(blocks, anthropic.NewToolUseBlock(tc.ID, json.RawMessage(tc.Input), tc.Name))
		}
		if m.Role == "assistant" {
			p.Messages = append(p.Messages, anthropic.NewAssistantMessage(blocks...))
		} else {
			p.Messages = append(p.Messages, anthropic.NewUserMessage(blocks...))
		}
	}
	for _, t := range c.Tools {
		tp := anthropic.ToolParam{Name: t.Name, Description: anthropic.String(t.Description),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: t.Schema["properties"]}}
		if req, ok := t.Schema["required"].([]string); ok {
			tp.InputSchema.Required = req
		}
		p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: &tp})
	}
	var resp *http.Response
	var r Result
	if !c.Stream {
		msg, err := client.Messages.New(ctx, p, aoption.WithResponseInto(&resp))
		r.Headers = headersOf(resp)
		if err != nil {
			r.Err = anthropicErr(ctx, err, false)
			return r
		}
		r.FirstMS = ms(time.Since(start))
		anthropicResult(&r, msg)
		r.OK = true
		return r
	}
	stream := client.Messages.NewStreaming(ctx, p, aoption.WithResponseInto(&resp))
	defer stream.Close()
	var acc anthropic.Message
	for stream.Next() {
		ev := stream.Current()
		if ev.Type == "message_start" {
			r.Starts++
		}
		if ev.Type == "content_block_delta" && r.FirstMS == 0 {
			r.FirstMS = ms(time.Since(start))
		}
		if err := acc.Accumulate(ev); err != nil {
			r.Headers = headersOf(resp)
			anthropicResult(&r, &acc)
			r.Err = &CallError{Kind: "transport", Message: err.Error()}
			return r
		}
	}
	r.Headers = headersOf(resp)
	anthropicResult(&r, &acc)
	if err := stream.Err(); err != nil {
		r.Err = anthropicErr(ctx, err, true)
		return r
	}
	r.OK = true
	return r
}

func anthropicResult(r *Result, m *anthropic.Message) {
	var sb strings.Builder
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			sb.WriteString(b.Text)
		case "tool_use":
			r.ToolCalls = append(r.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Input: string(b.Input)})
		}
	}
	r.Text = sb.String()
	r.StopReason = string(m.StopReason)
	r.Model = string(m.Model)
	r.Usage = m.Usage.OutputTokens > 0 || m.Usage.InputTokens > 0
}

func anthropicErr(ctx context.Context, err error, stream bool) *CallError {
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		kind := "api"
		if stream && ae.StatusCode == http.StatusOK {
			kind = "stream"
		}
		return &CallError{Kind: kind, Status: ae.StatusCode, Type: string(ae.Type()), Code: string(ae.ErrorCode()), Message: ae.Error()}
	}
	return otherErr(ctx, err)
}

func otherErr(ctx context.Context, err error) *CallError {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
		return &CallError{Kind: "timeout", Message: err.Error()}
	}
	return &CallError{Kind: "transport", Message: err.Error()}
}

func (d *goDriver) openai(ctx context.Context, c Call, start time.Time) Result {
	client := openai.NewClient(ooption.WithBaseURL(c.BaseURL), ooption.WithAPIKey(c.APIKey),
		ooption.WithMaxRetries(0), ooption.WithHTTPClient(d.hc))
	p := openai.ChatCompletionNewParams{Model: shared.ChatModel(c.Model), MaxCompletionTokens: openai.Int(int64(c.MaxTokens))}
	if c.System != "" {
		p.Messages = append(p.Messages, openai.SystemMessage(c.System))
	}
	for _, m := range c.Messages {
		for _, tr := range m.ToolResults {
			p.Messages = append(p.Messages, openai.ToolMessage(tr.Content, tr.ID))
		}
		switch {
		case m.Role == "assistant":
			var a openai.ChatCompletionAssistantMessageParam
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: tc.Input}}})
			}
			if m.Text != "" {
				a.Content.OfString = openai.String(m.Text)
			}
			p.Messages = append(p.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case m.Text != "":
			p.Messages = append(p.Messages, openai.UserMessage(m.Text))
		}
	}
	for _, t := range c.Tools {
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: t.Name, Description: openai.String(t.Description), Parameters: shared.FunctionParameters(t.Schema)}))
	}
	var resp *http.Response
	var r Result
	if !c.Stream {
		cc, err := client.Chat.Completions.New(ctx, p, ooption.WithResponseInto(&resp))
		r.Headers = headersOf(resp)
		if err != nil {
			r.Err = openaiErr(ctx, err)
			return r
		}
		r.FirstMS = ms(time.Since(start))
		openaiResult(&r, cc)
		r.OK = true
		return r
	}
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p, ooption.WithResponseInto(&resp))
	defer stream.Close()
	acc := openai.ChatCompletionAccumulator{}
	ids := map[string]bool{}
	for stream.Next() {
		ch := stream.Current()
		if !ids[ch.ID] {
			ids[ch.ID] = true
			r.Starts++
		}
		if r.FirstMS == 0 && len(ch.Choices) > 0 && (ch.Choices[0].Delta.Content != "" || len(ch.Choices[0].Delta.ToolCalls) > 0) {
			r.FirstMS = ms(time.Since(start))
		}
		acc.AddChunk(ch)
	}
	r.Headers = headersOf(resp)
	openaiResult(&r, &acc.ChatCompletion)
	if err := stream.Err(); err != nil {
		r.Err = openaiErr(ctx, err)
		return r
	}
	r.OK = true
	return r
}

func openaiResult(r *Result, cc *openai.ChatCompletion) {
	r.Model = cc.Model
	r.Usage = cc.Usage.TotalTokens > 0
	if len(cc.Choices) == 0 {
		return
	}
	ch := cc.Choices[0]
	r.Text = ch.Message.Content
	r.StopReason = ch.FinishReason
	for _, tc := range ch.Message.ToolCalls {
		r.ToolCalls = append(r.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Input: tc.Function.Arguments})
	}
}

func openaiErr(ctx context.Context, err error) *CallError {
	var oe *openai.Error
	if errors.As(err, &oe) {
		return &CallError{Kind: "api", Status: oe.StatusCode, Type: oe.Type, Code: oe.Code, Message: oe.Message}
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		return &CallError{Kind: "stream", Message: err.Error(), Type: streamErrType(se)}
	}
	return otherErr(ctx, err)
}

func streamErrType(se *ssestream.StreamError) string {
	var v struct {
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
		Type string `json:"type"`
	}
	if json.Unmarshal([]byte(se.Message), &v) == nil {
		if v.Error.Type != "" {
			return v.Error.Type
		}
		return v.Type
	}
	return ""
}
