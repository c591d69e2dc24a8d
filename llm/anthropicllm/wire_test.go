package anthropicllm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
)

// bodyModel is a model whose last request body is kept in *body.
func bodyModel(t *testing.T, script string, body *[]byte) *anthropicllm.Model {
	srv := fakellm.NewServer(t, script)
	client := anthropic.NewClient(option.WithAPIKey("sk-ant-test"), option.WithBaseURL(srv.AnthropicBaseURL))
	return anthropicllm.New(client, "claude-haiku-4-5", anthropicllm.WithRequestOptions(
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			*body = b
			r.Body = io.NopCloser(bytes.NewReader(b))
			return next(r)
		})))
}

// What the adapter puts on the wire: tools with their schemas verbatim, tool_choice and the
// parallel switch, temperature and top_p, Extra merged last, tool results grouped first in one
// user turn, a foreign id mapped in the call and in its result, another provider's opaque block
// dropped and Anthropic's own sent back as it came.
func TestWireFormat(t *testing.T) {
	var body []byte
	m := bodyModel(t, "", &body)
	temp, topP := 0.25, 0.9
	req := llm.Request{
		Messages: []llm.Message{
			llm.User("Weather?"),
			rebound.NewMessage(rebound.RoleAssistant,
				rebound.Opaque("openai", json.RawMessage(`{"type":"reasoning"}`)),
				rebound.Text("Checking."),
				rebound.ToolUse("functions.get_weather:0", "get_weather", json.RawMessage(`{"city":"Paris"}`)),
				rebound.ToolUse("toolu_own_1", "get_time", nil)),
			rebound.NewMessage(rebound.RoleUser, rebound.Text("Here you go.")),
			rebound.ToolResults(
				rebound.ToolResult("functions.get_weather:0", "down", true),
				rebound.ToolResult("toolu_own_1", "14:05", false)),
		},
		Tools: []llm.Tool{{Name: "get_weather", Description: "Weather.", InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}`)},
			{Name: "get_time"}},
		ToolChoice:               llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_time"},
		DisableParallelToolCalls: true,
		Temperature:              &temp, TopP: &topP,
		Extra: map[string]json.RawMessage{
			"anthropic": json.RawMessage(`{"metadata":{"user_id":"u-1"},"top_k":5}`),
			"openai":    json.RawMessage(`{"seed":7}`),
		},
	}
	if _, err := m.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Messages []struct {
			Role    string            `json:"role"`
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools       []map[string]json.RawMessage `json:"tools"`
		ToolChoice  map[string]any               `json:"tool_choice"`
		Temperature float64                      `json:"temperature"`
		TopP        float64                      `json:"top_p"`
		TopK        int                          `json:"top_k"`
		Metadata    map[string]string            `json:"metadata"`
		Seed        *int                         `json:"seed"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if got.Temperature != 0.25 || got.TopP != 0.9 || got.TopK != 5 || got.Metadata["user_id"] != "u-1" || got.Seed != nil {
		t.Errorf("sampling and extra: %s", body)
	}
	if got.ToolChoice["type"] != "tool" || got.ToolChoice["name"] != "get_time" || got.ToolChoice["disable_parallel_tool_use"] != true {
		t.Errorf("tool_choice %v", got.ToolChoice)
	}
	if len(got.Tools) != 2 || !strings.Contains(string(got.Tools[0]["input_schema"]), `"additionalProperties":false`) {
		t.Errorf("tools %s", body)
	}
	if len(got.Messages) != 3 {
		t.Fatalf("%d messages, want 3 (the two user messages are one turn): %s", len(got.Messages), body)
	}
	asst := fmt.Sprintf("%s", got.Messages[1].Content)
	if strings.Contains(asst, "reasoning") || !strings.Contains(asst, `"id":"toolu_rb_`) || !strings.Contains(asst, `"id":"toolu_own_1"`) {
		t.Errorf("assistant turn %s", asst)
	}
	user := got.Messages[2].Content
	if len(user) != 3 || !strings.Contains(string(user[0]), `"tool_use_id":"toolu_rb_`) || !strings.Contains(string(user[0]), `"is_error":true`) ||
		!strings.Contains(string(user[1]), `"tool_use_id":"toolu_own_1"`) || !strings.Contains(string(user[2]), "Here you go.") {
		t.Errorf("user turn: results first, then the text: %s", fmt.Sprintf("%s", user))
	}

	// Anthropic's own opaque block goes back as it came.
	req = llm.Request{Messages: []llm.Message{llm.User("Hi"),
		rebound.NewMessage(rebound.RoleAssistant, rebound.Opaque("anthropic", json.RawMessage(`{"type":"redacted_thinking","data":"fakellm-redacted-abc=="}`)), rebound.Text("Hello")),
		llm.User("Again")}}
	if _, err := m.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`{"type":"redacted_thinking","data":"fakellm-redacted-abc=="}`)) {
		t.Errorf("opaque block not verbatim: %s", body)
	}

	// Extra that is not a JSON object is the caller's bug, refused before sending.
	body = nil
	_, err := m.Generate(context.Background(), llm.Request{Messages: []llm.Message{llm.User("x")}, Extra: map[string]json.RawMessage{"anthropic": json.RawMessage(`[1]`)}})
	if c, _ := rebound.Classify(err); c != rebound.ClassInvalid || body != nil {
		t.Errorf("bad Extra: %v, sent %s", err, body)
	}
}
