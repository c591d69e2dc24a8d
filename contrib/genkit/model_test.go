package reboundgenkit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"

	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"

	reboundgenkit "github.com/rebound-go/rebound/contrib/genkit"
)

// The conversion keeps a tool conversation whole: system text, media, text and tool requests
// in order with their refs, tool responses (an "Error:" output marked failed, a structured
// output as JSON), tools with their schemas, the tool choice and the common config.
func TestRequest(t *testing.T) {
	req := &ai.ModelRequest{
		Config: &ai.GenerationCommonConfig{MaxOutputTokens: 77, Temperature: 0.3, StopSequences: []string{"END"}},
		Messages: []*ai.Message{
			ai.NewSystemTextMessage("Be brief."),
			{Role: ai.RoleUser, Content: []*ai.Part{ai.NewTextPart("What is this?"), ai.NewMediaPart("image/png", "data:image/png;base64,iVBO")}},
			{Role: ai.RoleModel, Content: []*ai.Part{ai.NewTextPart("Looking."),
				ai.NewToolRequestPart(&ai.ToolRequest{Name: "a", Ref: "r1", Input: map[string]any{"x": 1}}),
				ai.NewToolRequestPart(&ai.ToolRequest{Name: "b", Ref: "r2"})}},
			{Role: ai.RoleTool, Content: []*ai.Part{
				ai.NewToolResponsePart(&ai.ToolResponse{Name: "a", Ref: "r1", Output: map[string]any{"ok": true}}),
				ai.NewToolResponsePart(&ai.ToolResponse{Name: "b", Ref: "r2", Output: "Error: b is down"})}},
		},
		Tools:      []*ai.ToolDefinition{{Name: "a", Description: "A.", InputSchema: map[string]any{"type": "object"}}},
		ToolChoice: ai.ToolChoiceRequired,
	}
	r, err := reboundgenkit.Request(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.System != "Be brief." || r.MaxTokens != 77 || *r.Temperature != 0.3 || r.StopSequences[0] != "END" || len(r.Messages) != 3 {
		t.Fatalf("request %+v", r)
	}
	if img := r.Messages[0].Parts()[1]; img.MediaType != "image/png" || img.Data != "iVBO" {
		t.Errorf("image %+v", img)
	}
	calls := r.Messages[1].ToolCalls()
	if len(calls) != 2 || calls[0].ID != "r1" || string(calls[0].Input) != `{"x":1}` || string(calls[1].Input) != `{}` {
		t.Errorf("calls %+v", calls)
	}
	res := r.Messages[2].ToolResultBlocks()
	if len(res) != 2 || res[0].ResultText() != `{"ok":true}` || res[0].IsError || !res[1].IsError || res[1].CallID != "r2" {
		t.Errorf("results %+v", res)
	}
	if len(r.Tools) != 1 || string(r.Tools[0].InputSchema) != `{"type":"object"}` || r.ToolChoice.Mode != llm.ToolChoiceAny {
		t.Errorf("tools %+v choice %+v", r.Tools, r.ToolChoice)
	}
}

// A streamed generate passes the text to Genkit's stream callback as it arrives; when the
// stream breaks after text was passed, OnRestart is called before the retried attempt's text,
// and the response is the completed attempt's.
func TestStreaming(t *testing.T) {
	srv := fakellm.NewServer(t, "stream-error after=4 times=1")
	ctx := context.Background()
	g := genkit.Init(ctx)
	restarts := 0
	model := reboundgenkit.DefineModel(g, "rebound/stream", chain(t, srv, fakellm.NewServer(t, ""), nil),
		reboundgenkit.Config{OnRestart: func(context.Context) { restarts++ }})
	var chunks []string
	resp, err := genkit.Generate(ctx, g, ai.WithModel(model), ai.WithPrompt("Tell me a long story about kettles."),
		ai.WithStreaming(func(_ context.Context, c *ai.ModelResponseChunk) error { chunks = append(chunks, c.Text()); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(chunks, "")
	if restarts != 1 || !strings.HasPrefix(resp.Text(), "[fakellm ") || !strings.HasSuffix(all, resp.Text()) || all == resp.Text() {
		t.Errorf("restarts %d, chunks %q, answer %q", restarts, chunks, resp.Text())
	}
	if n := len(llmtest.Log(srv, 2)); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}
