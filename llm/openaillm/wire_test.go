package openaillm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/openaillm"
)

func bodyModel(t *testing.T, script string, body *[]byte) *openaillm.Model {
	srv := fakellm.NewServer(t, script)
	client := openai.NewClient(option.WithAPIKey("sk-test"), option.WithBaseURL(srv.OpenAIBaseURL))
	return openaillm.New(client, "gpt-4o", openaillm.WithRequestOptions(
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			*body = b
			r.Body = io.NopCloser(bytes.NewReader(b))
			return next(r)
		})))
}

// What the adapter puts on the wire: function tools, tool_choice any as "required" and a named
// tool as a function choice, parallel_tool_calls, temperature and top_p, Extra merged last; a
// user message of results split into one tool message per call (an error result prefixed
// "Error: ") followed by the rest of the message; a long id mapped in the call and its result;
// opaque blocks dropped; images as image_url parts (inline data as a data: URL).
func TestWireFormat(t *testing.T) {
	var body []byte
	m := bodyModel(t, "", &body)
	temp, topP := 0.25, 0.9
	long := "toolu_vrtx_01ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	req := llm.Request{
		System: "Be brief.",
		Messages: []llm.Message{
			rebound.NewMessage(rebound.RoleUser, rebound.Text("What is this?"), rebound.Image("image/png", "iVBORw0KGgo=")),
			rebound.NewMessage(rebound.RoleAssistant,
				rebound.Opaque("anthropic", json.RawMessage(`{"type":"thinking","thinking":"x","signature":"s"}`)),
				rebound.ToolUse(long, "get_weather", json.RawMessage(`{"city":"Paris"}`)),
				rebound.ToolUse("call_own", "get_time", nil)),
			{Role: rebound.RoleUser, Blocks: []rebound.Block{
				rebound.ToolResult(long, "weather service down", true),
				rebound.ToolResult("call_own", "14:05", false),
				rebound.Text("And book a table."),
			}},
		},
		Tools:                    []llm.Tool{{Name: "get_weather", InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}, {Name: "get_time"}},
		ToolChoice:               llm.ToolChoice{Mode: llm.ToolChoiceAny},
		DisableParallelToolCalls: true,
		Temperature:              &temp, TopP: &topP,
		Extra: map[string]json.RawMessage{"openai": json.RawMessage(`{"seed":7,"user":"u-1"}`), "anthropic": json.RawMessage(`{"top_k":5}`)},
	}
	if _, err := m.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools       []json.RawMessage `json:"tools"`
		ToolChoice  json.RawMessage   `json:"tool_choice"`
		Parallel    *bool             `json:"parallel_tool_calls"`
		Temperature float64           `json:"temperature"`
		TopP        float64           `json:"top_p"`
		Seed        int               `json:"seed"`
		User        string            `json:"user"`
		TopK        *int              `json:"top_k"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if got.Temperature != 0.25 || got.TopP != 0.9 || got.Seed != 7 || got.User != "u-1" || got.TopK != nil {
		t.Errorf("sampling and extra: %s", body)
	}
	if string(got.ToolChoice) != `"required"` || got.Parallel == nil || *got.Parallel || len(got.Tools) != 2 {
		t.Errorf("tool_choice %s parallel %v tools %d", got.ToolChoice, got.Parallel, len(got.Tools))
	}
	roles := []string{}
	for _, msg := range got.Messages {
		roles = append(roles, msg.Role)
	}
	if strings.Join(roles, ",") != "system,user,assistant,tool,tool,user" {
		t.Fatalf("roles %v: %s", roles, body)
	}
	if !strings.Contains(string(got.Messages[1].Content), `"url":"data:image/png;base64,iVBORw0KGgo="`) {
		t.Errorf("image %s", got.Messages[1].Content)
	}
	a := got.Messages[2]
	if len(a.ToolCalls) != 2 || !strings.HasPrefix(a.ToolCalls[0].ID, openaillm.CallIDPrefix) || len(a.ToolCalls[0].ID) > 40 ||
		a.ToolCalls[1].ID != "call_own" || a.ToolCalls[1].Function.Arguments != "{}" || strings.Contains(string(body), "thinking") {
		t.Errorf("assistant %+v", a)
	}
	if got.Messages[3].ToolCallID != a.ToolCalls[0].ID || string(got.Messages[3].Content) != `"Error: weather service down"` ||
		got.Messages[4].ToolCallID != "call_own" || string(got.Messages[4].Content) != `"14:05"` {
		t.Errorf("tool messages %s / %s", got.Messages[3].Content, got.Messages[4].Content)
	}

	req.ToolChoice = llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_time"}
	if _, err := m.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"tool_choice":{"function":{"name":"get_time"},"type":"function"}`)) {
		t.Errorf("named tool choice: %s", body)
	}
}
