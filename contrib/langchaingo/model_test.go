package reboundlangchaingo_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tmc/langchaingo/llms"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"

	reboundlangchaingo "github.com/rebound-go/rebound/contrib/langchaingo"
)

// The conversion keeps a tool conversation whole: system text to the system prompt, text and
// tool calls in order, the results of consecutive tool messages in one user turn, an "Error:"
// result marked as failed, images, tools and the deprecated functions, the tool choice.
func TestRequest(t *testing.T) {
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "Be brief."),
		{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{llms.TextPart("What is this?"),
			llms.ImageURLPart("data:image/png;base64,iVBO"), llms.BinaryPart("image/jpeg", []byte{1, 2})}},
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.TextPart("Looking."),
			llms.ToolCall{ID: "c1", Type: "function", FunctionCall: &llms.FunctionCall{Name: "a", Arguments: `{"x":1}`}},
			llms.ToolCall{ID: "c2", Type: "function", FunctionCall: &llms.FunctionCall{Name: "b", Arguments: ""}}}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "c1", Content: "one"}}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "c2", Content: "Error: b is down"}}},
	}
	opts := llms.CallOptions{MaxTokens: 99, Temperature: 0.5, StopWords: []string{"END"},
		Tools:      []llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{Name: "a", Description: "A.", Parameters: map[string]any{"type": "object"}}}},
		Functions:  []llms.FunctionDefinition{{Name: "b", Parameters: json.RawMessage(`{"type":"object","properties":{}}`)}},
		ToolChoice: llms.ToolChoice{Type: "function", Function: &llms.FunctionReference{Name: "b"}}}
	req, err := reboundlangchaingo.Request(msgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if req.System != "Be brief." || req.MaxTokens != 99 || *req.Temperature != 0.5 || req.TopP != nil || req.StopSequences[0] != "END" {
		t.Errorf("request %+v", req)
	}
	if len(req.Messages) != 3 {
		t.Fatalf("messages %+v", req.Messages)
	}
	user := req.Messages[0].Parts()
	if len(user) != 3 || user[1].Type != rebound.BlockImage || user[1].MediaType != "image/png" || user[1].Data != "iVBO" || user[2].Data != "AQI=" {
		t.Errorf("user %+v", user)
	}
	calls := req.Messages[1].ToolCalls()
	if req.Messages[1].Text() != "Looking." || len(calls) != 2 || string(calls[0].Input) != `{"x":1}` || string(calls[1].Input) != `{}` {
		t.Errorf("assistant %+v", req.Messages[1])
	}
	res := req.Messages[2].ToolResultBlocks()
	if len(res) != 2 || res[0].CallID != "c1" || res[0].IsError || res[1].CallID != "c2" || !res[1].IsError {
		t.Errorf("results %+v", req.Messages[2])
	}
	if len(req.Tools) != 2 || req.Tools[0].Name != "a" || string(req.Tools[0].InputSchema) != `{"type":"object"}` || req.Tools[1].Name != "b" ||
		req.ToolChoice != (llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "b"}) {
		t.Errorf("tools %+v choice %+v", req.Tools, req.ToolChoice)
	}
	for choice, want := range map[any]llm.ToolChoiceMode{"auto": llm.ToolChoiceAuto, "none": llm.ToolChoiceNone, "required": llm.ToolChoiceAny, "any": llm.ToolChoiceAny} {
		r, err := reboundlangchaingo.Request(nil, llms.CallOptions{ToolChoice: choice})
		if err != nil || r.ToolChoice.Mode != want {
			t.Errorf("choice %v: %+v, %v", choice, r.ToolChoice, err)
		}
	}
	for _, bad := range []llms.CallOptions{{ToolChoice: 3}, {ToolChoice: "sometimes"}, {ToolChoice: llms.ToolChoice{Type: "function"}}} {
		if _, err := reboundlangchaingo.Request(nil, bad); err == nil {
			t.Errorf("choice %v accepted", bad.ToolChoice)
		}
	}
	if _, err := reboundlangchaingo.Request([]llms.MessageContent{{Role: llms.ChatMessageTypeTool,
		Parts: []llms.ContentPart{llms.ToolCallResponse{Name: "f", Content: "x"}}}}, llms.CallOptions{}); err == nil {
		t.Error("a tool response without a call id was accepted")
	}
}

// A streamed call passes the text to the StreamingFunc as it arrives; when the stream breaks
// after text was passed, OnRestart is called before the retried attempt's text, and the
// answer is the completed attempt's. A StreamingFunc's error stops the call with that error.
func TestStreaming(t *testing.T) {
	srv := fakellm.NewServer(t, "stream-error after=4 times=1")
	var restarts int
	m := reboundlangchaingo.NewWith(chain(t, srv, fakellm.NewServer(t, ""), nil), reboundlangchaingo.Config{
		OnRestart: func(context.Context) { restarts++ },
	})
	var chunks []string
	resp, err := m.GenerateContent(context.Background(), []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Tell me a long story about kettles.")},
		llms.WithStreamingFunc(func(_ context.Context, b []byte) error { chunks = append(chunks, string(b)); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	text := resp.Choices[0].Content
	all := strings.Join(chunks, "")
	if restarts != 1 || !strings.HasPrefix(text, "[fakellm ") || !strings.HasSuffix(all, text) || all == text {
		t.Errorf("restarts %d, chunks %q, answer %q", restarts, chunks, text)
	}
	if n := len(llmtest.Log(srv, 2)); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}

	stop := context.Canceled
	_, err = m.GenerateContent(context.Background(), []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Hello there.")},
		llms.WithStreamingFunc(func(context.Context, []byte) error { return stop }))
	if err == nil || !strings.Contains(err.Error(), "StreamingFunc") {
		t.Errorf("streaming func error: %v", err)
	}
	if got, _ := m.Call(context.Background(), "Hello there."); !strings.HasPrefix(got, "[fakellm ") {
		t.Errorf("Call: %q", got)
	}
}
