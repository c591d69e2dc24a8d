package llm_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// EstimatedTokens counts tool schemas, tool calls and results, and an image as about 1,600
// tokens whatever the length of its base64 data.
func TestEstimatedTokensCountsToolsAndBlocks(t *testing.T) {
	base := llm.Request{Messages: []llm.Message{llm.User("hi")}, MaxTokens: 1}
	schema := json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","description":"` + strings.Repeat("x", 4000) + `"}}}`)
	withTool := base
	withTool.Tools = []llm.Tool{{Name: "get_weather", InputSchema: schema}}
	if d := withTool.EstimatedTokens() - base.EstimatedTokens(); d < 1000 {
		t.Errorf("a 4 KB schema adds %d tokens", d)
	}
	withCall := base
	withCall.Messages = append(withCall.Messages,
		rebound.NewMessage(rebound.RoleAssistant, rebound.ToolUse("t1", "get_weather", json.RawMessage(`{"city":"`+strings.Repeat("p", 4000)+`"}`))),
		rebound.ToolResults(rebound.ToolResult("t1", strings.Repeat("r", 4000), false)))
	if d := withCall.EstimatedTokens() - base.EstimatedTokens(); d < 2000 {
		t.Errorf("a 4 KB call and a 4 KB result add %d tokens", d)
	}
	img := func(n int) llm.Request {
		r := base
		r.Messages = []llm.Message{rebound.NewMessage(rebound.RoleUser, rebound.Text("hi"), rebound.Image("image/png", strings.Repeat("A", n)))}
		return r
	}
	small, large := img(100).EstimatedTokens(), img(1_000_000).EstimatedTokens()
	if small != large || small-base.EstimatedTokens() < 1500 || small-base.EstimatedTokens() > 1700 {
		t.Errorf("image: %d and %d tokens (base %d)", small, large, base.EstimatedTokens())
	}
}
