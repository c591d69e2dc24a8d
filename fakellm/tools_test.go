package fakellm_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rebound-go/rebound/fakellm"
)

func post(h *fakellm.Handler, path, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", path, strings.NewReader(body)))
	return w
}

const anthropicTools = `"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},{"name":"get_time","input_schema":{"type":"object"}}]`
const openaiTools = `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}]`

// The fake refuses the conversations the real APIs refuse, with their messages.
func TestInvalidToolConversations(t *testing.T) {
	h := newHandler(t, "")
	for _, tc := range []struct{ path, messages, want string }{
		{"/v1/messages", `[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},{"role":"user","content":"and?"}]`,
			"`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"},
		{"/v1/messages", `[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2","content":"x"}]}]`,
			"unexpected `tool_use_id` found in `tool_result` blocks: toolu_2"},
		{"/v1/messages", `[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"text","text":"here"},{"type":"tool_result","tool_use_id":"toolu_1","content":"x"}]}]`,
			"tool_result blocks must come first"},
		{"/v1/messages", `[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"call.1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"call.1","content":"x"}]}]`,
			"String should match pattern"},
		{"/v1/messages", `[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"x","signature":"forged"}]},{"role":"user","content":"go on"}]`,
			"Invalid `signature` in `thinking` block"},
		{"/v1/chat/completions", `[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}},{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"x"},{"role":"user","content":"and?"}]`,
			"The following tool_call_ids did not have response messages: call_2"},
		{"/v1/chat/completions", `[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_1","content":"x"}]`,
			"messages with role 'tool' must be a response to a preceeding message with 'tool_calls'"},
		{"/v1/chat/completions", `[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"toolu_0123456789012345678901234567890123456789","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"toolu_0123456789012345678901234567890123456789","content":"x"}]`,
			"Expected a string with maximum length 40"},
	} {
		body := `{"model":"m","max_tokens":50,"messages":` + tc.messages + `}`
		w := post(h, tc.path, body)
		if w.Code != 400 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s %s:\n%d %s\nwant 400 with %q", tc.path, tc.messages, w.Code, w.Body, tc.want)
		}
	}
	for _, r := range h.Requests() {
		if r.Invalid == "" {
			t.Errorf("request %d: no reason in the log", r.ID)
		}
	}
}

func TestToolRules(t *testing.T) {
	h := newHandler(t, "ok result=get_weather result-error=false\ntool-use name=get_time result=get_weather result-error=true\ntool-use name=get_weather,get_time input='{\"city\":\"Paris\"}'")
	w := post(h, "/v1/messages", `{"model":"m","max_tokens":50,`+anthropicTools+`,"messages":[{"role":"user","content":"hi"}]}`)
	var msg struct {
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Type, ID, Name string
			Input          json.RawMessage
		}
	}
	json.Unmarshal(w.Body.Bytes(), &msg)
	if w.Code != 200 || msg.StopReason != "tool_use" || len(msg.Content) != 2 || msg.Content[1].Name != "get_time" || string(msg.Content[0].Input) != `{"city":"Paris"}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	turn := `{"role":"assistant","content":[{"type":"tool_use","id":"` + msg.Content[0].ID + `","name":"get_weather","input":{}},{"type":"tool_use","id":"` + msg.Content[1].ID + `","name":"get_time","input":{}}]}`
	for _, tc := range []struct {
		isError bool
		want    string
	}{{true, `"name":"get_time"`}, {false, `"stop_reason":"end_turn"`}} {
		results := `{"role":"user","content":[{"type":"tool_result","tool_use_id":"` + msg.Content[0].ID + `","content":"x","is_error":` + map[bool]string{true: "true", false: "false"}[tc.isError] + `},{"type":"tool_result","tool_use_id":"` + msg.Content[1].ID + `","content":"y"}]}`
		w := post(h, "/v1/messages", `{"model":"m","max_tokens":50,`+anthropicTools+`,"messages":[{"role":"user","content":"hi"},`+turn+`,`+results+`]}`)
		if w.Code != 200 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("is_error %v: %d %s, want %s", tc.isError, w.Code, w.Body, tc.want)
		}
	}
	// OpenAI: a tool message starting "Error" is an error result.
	h = newHandler(t, "tool-use name=get_time result=get_weather result-error=true\nok")
	w = post(h, "/v1/chat/completions", `{"model":"m",`+openaiTools+`,"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"Error: down"}]}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"name":"get_time"`) {
		t.Errorf("openai error result: %d %s", w.Code, w.Body)
	}
}

func TestToolChoice(t *testing.T) {
	h := newHandler(t, "tool-use name=get_weather,get_time")
	for _, tc := range []struct{ path, extra, want, not string }{
		{"/v1/messages", anthropicTools + `,"tool_choice":{"type":"none"}`, `"end_turn"`, "tool_use"},
		{"/v1/chat/completions", openaiTools + `,"tool_choice":"none"`, `"stop"`, "tool_calls"},
		{"/v1/messages", anthropicTools + `,"tool_choice":{"type":"tool","name":"get_time"}`, `"name":"get_time"`, "get_weather"},
		{"/v1/chat/completions", openaiTools + `,"tool_choice":{"type":"function","function":{"name":"get_time"}}`, `"name":"get_time"`, "get_weather"},
		{"/v1/messages", anthropicTools + `,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`, `"name":"get_weather"`, "get_time"},
		{"/v1/chat/completions", openaiTools + `,"parallel_tool_calls":false`, `"name":"get_weather"`, "get_time"},
	} {
		w := post(h, tc.path, `{"model":"m","max_tokens":50,`+tc.extra+`,"messages":[{"role":"user","content":"hi"}]}`)
		if w.Code != 200 || !strings.Contains(w.Body.String(), tc.want) || strings.Contains(w.Body.String(), tc.not) {
			t.Errorf("%s %s: %d %s", tc.path, tc.extra, w.Code, w.Body)
		}
	}
	// A forced choice gets a call without any rule; a forced tool that is not offered is a 400.
	h = newHandler(t, "")
	if w := post(h, "/v1/chat/completions", `{"model":"m",`+openaiTools+`,"tool_choice":"required","messages":[{"role":"user","content":"hi"}]}`); !strings.Contains(w.Body.String(), `"finish_reason":"tool_calls"`) {
		t.Errorf("required: %s", w.Body)
	}
	if w := post(h, "/v1/messages", `{"model":"m","max_tokens":50,`+anthropicTools+`,"tool_choice":{"type":"tool","name":"nope"},"messages":[{"role":"user","content":"hi"}]}`); w.Code != 400 {
		t.Errorf("forced tool not offered: %d %s", w.Code, w.Body)
	}
}

func TestToolInputFaults(t *testing.T) {
	h := newHandler(t, "tool-use name=get_weather input-fault=not-json provider=openai\ntool-use name=get_weather input-fault=not-json")
	w := post(h, "/v1/chat/completions", `{"model":"m",`+openaiTools+`,"messages":[{"role":"user","content":"hi"}]}`)
	var cc struct {
		Choices []struct {
			Message struct {
				ToolCalls []struct {
					Function struct{ Arguments string }
				} `json:"tool_calls"`
			}
		}
	}
	json.Unmarshal(w.Body.Bytes(), &cc)
	if args := cc.Choices[0].Message.ToolCalls[0].Function.Arguments; json.Valid([]byte(args)) {
		t.Errorf("arguments %q are JSON", args)
	}
	w = post(h, "/v1/messages", `{"model":"m","max_tokens":50,`+anthropicTools+`,"messages":[{"role":"user","content":"hi"}]}`)
	if !strings.Contains(w.Body.String(), `"input":"{`) {
		t.Errorf("anthropic not-json input: %s", w.Body)
	}
	// Streamed input in 2-byte pieces; truncate ends the stream after the first piece.
	h = newHandler(t, "tool-use name=get_weather chunk=2 req=1\ntool-use name=get_weather chunk=2 input-fault=truncate req=2")
	w = post(h, "/v1/messages", `{"model":"m","max_tokens":50,"stream":true,`+anthropicTools+`,"messages":[{"role":"user","content":"hi"}]}`)
	if n := strings.Count(w.Body.String(), "input_json_delta"); n < 5 || !strings.Contains(w.Body.String(), "message_stop") {
		t.Errorf("%d input deltas: %s", n, w.Body)
	}
	w = post(h, "/v1/messages", `{"model":"m","max_tokens":50,"stream":true,`+anthropicTools+`,"messages":[{"role":"user","content":"hi"}]}`)
	if n := strings.Count(w.Body.String(), "input_json_delta"); n != 1 || strings.Contains(w.Body.String(), "content_block_stop") {
		t.Errorf("truncated: %d input deltas: %s", n, w.Body)
	}
}

func TestScriptToolKeys(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{"tool-use input='{\"a\":1'", "is not a JSON object"},
		{"tool-use input='{\"a\":1}", "unterminated single-quoted value"},
		{"tool-use name=a,,b", "an empty tool name"},
		{"tool-use chunk=0", "not a byte count"},
		{"tool-use input-fault=explode", "want cut, truncate or not-json"},
		{"ok result-error=maybe", "want true or false"},
		{"error 500 thinking=true", "applies only to ok and tool-use"},
	} {
		_, err := fakellm.ParseScript(tc.script)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.script, err, tc.want)
		}
	}
	// An apostrophe inside a value is still a plain character.
	if _, err := fakellm.ParseScript("ok contains=don't"); err != nil {
		t.Error(err)
	}
}

// Three differences from the real APIs, fixed: a plain 429 is a rate limit with retry-after
// and nothing remaining; a model outside the list is 404; a wrong key is 401.
func TestRealAPIDifferences(t *testing.T) {
	h := newHandler(t, "error 429")
	if w := do(h, false, "k", "m", "hi", false); w.Code != 429 || w.Header().Get("retry-after") != "1" || w.Header().Get("anthropic-ratelimit-requests-remaining") != "0" {
		t.Errorf("anthropic plain 429: %d %v", w.Code, w.Header())
	}
	if w := do(h, true, "k", "m", "hi", false); w.Code != 429 || w.Header().Get("retry-after") != "1" || w.Header().Get("x-ratelimit-remaining-requests") != "0" {
		t.Errorf("openai plain 429: %d %v", w.Code, w.Header())
	}
	h = newHandler(t, "error 429 retry-after-ms=20")
	if w := do(h, false, "k", "m", "hi", false); w.Header().Get("retry-after") != "" {
		t.Errorf("a scripted retry-after-ms gets no retry-after of its own: %v", w.Header())
	}

	h, err := fakellm.New("", fakellm.Options{Models: []string{"claude-*", "gpt-4o"}})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(h, false, "k", "claude-x", "hi", false); w.Code != 200 {
		t.Errorf("served model: %d", w.Code)
	}
	if w := do(h, false, "k", "claude", "hi", false); w.Code != 404 || !strings.Contains(w.Body.String(), "not_found_error") {
		t.Errorf("anthropic unknown model: %d %s", w.Code, w.Body)
	}
	if w := do(h, true, "k", "gpt-5", "hi", false); w.Code != 404 || !strings.Contains(w.Body.String(), "model_not_found") {
		t.Errorf("openai unknown model: %d %s", w.Code, w.Body)
	}

	h, err = fakellm.New("", fakellm.Options{Key: "sk-right"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		openai bool
		key    string
		code   int
		want   string
	}{
		{false, "sk-right", 200, ""}, {false, "sk-wrong", 401, "authentication_error"}, {false, "", 401, "authentication_error"},
		{true, "sk-right", 200, ""}, {true, "sk-wrong", 401, "invalid_api_key"},
	} {
		if w := do(h, tc.openai, tc.key, "m", "hi", false); w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("openai=%v key %q: %d %s", tc.openai, tc.key, w.Code, w.Body)
		}
	}
}

// FuzzToolConversation: any conversation sent to either API gets an answer (200) or the real
// API's refusal (400), never a panic or another status.
func FuzzToolConversation(f *testing.F) {
	f.Add(false, `[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"x"},{"type":"image","source":{}}],"is_error":true}]}]`)
	f.Add(true, `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:"}}]},{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_time","arguments":"{"}}]},{"role":"tool","tool_call_id":"call_1","content":"Error: x"}]`)
	f.Add(false, `[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"redacted_thinking","data":"d"}]}]`)
	h := newHandler(f, "ok result=* result-error=true\ntool-use name=get_weather,get_time thinking=true chunk=1")
	f.Fuzz(func(t *testing.T, openai bool, messages string) {
		path, tools := "/v1/messages", anthropicTools
		if openai {
			path, tools = "/v1/chat/completions", openaiTools
		}
		w := post(h, path, `{"model":"m","max_tokens":50,"stream":`+map[bool]string{true: "true", false: "false"}[len(messages)%2 == 0]+`,`+tools+`,"messages":`+messages+`}`)
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}

// A tool input streamed one byte a piece keeps its multi-byte characters whole.
func TestToolInputChunksKeepUTF8(t *testing.T) {
	h := newHandler(t, `tool-use name=get_weather chunk=1 input='{"city":"Zürich"}'`)
	w := post(h, "/v1/messages", `{"model":"m","max_tokens":50,"stream":true,`+anthropicTools+`,"messages":[{"role":"user","content":"hi"}]}`)
	if !strings.Contains(w.Body.String(), `"partial_json":"ü"`) || strings.Contains(w.Body.String(), `\ufffd`) {
		t.Errorf("%s", w.Body)
	}
}
