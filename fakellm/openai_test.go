package fakellm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/rebound-go/rebound/fakellm"
)

func openaiClient(srv *fakellm.Server, opts ...option.RequestOption) *openai.Client {
	base := []option.RequestOption{
		option.WithAPIKey("sk-secret-openai-test-key"),
		option.WithBaseURL(srv.OpenAIBaseURL),
		option.WithMaxRetries(0),
	}
	c := openai.NewClient(append(base, opts...)...)
	return &c
}

func chatParams(text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    "gpt-4o", // the fake serves any model name
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
}

func TestOpenAIReply(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	c := openaiClient(srv)
	var res *http.Response
	cc, err := c.Chat.Completions.New(context.Background(), chatParams("Summarise the three sections"), option.WithResponseInto(&res))
	if err != nil {
		t.Fatal(err)
	}
	ch := cc.Choices[0]
	if ch.FinishReason != "stop" || !strings.HasPrefix(ch.Message.Content, "[fakellm ") || !strings.HasSuffix(ch.Message.Content, "] Summarise the three sections") {
		t.Errorf("finish %q content %q", ch.FinishReason, ch.Message.Content)
	}
	if cc.Usage.PromptTokens <= 0 || cc.Usage.CompletionTokens <= 0 || cc.Usage.TotalTokens != cc.Usage.PromptTokens+cc.Usage.CompletionTokens {
		t.Errorf("usage %+v", cc.Usage)
	}
	for _, k := range []string{"x-request-id", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens"} {
		if res.Header.Get(k) == "" {
			t.Errorf("no %s header", k)
		}
	}
	for _, k := range []string{"x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"} {
		if _, err := time.ParseDuration(res.Header.Get(k)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

func TestOpenAIJSONSchema(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	p := chatParams("Give me the outline")
	p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
		OfJSONSchema: &openai.ResponseFormatJSONSchemaParam{JSONSchema: openai.ResponseFormatJSONSchemaJSONSchemaParam{
			Name: "outline",
			Schema: map[string]any{"type": "object", "properties": map[string]any{
				"title":    map[string]any{"type": "string"},
				"sections": map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": 3},
				"draft":    map[string]any{"type": "boolean"},
			}, "required": []string{"title", "sections", "draft"}},
		}},
	}
	cc, err := openaiClient(srv).Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Title    string   `json:"title"`
		Sections []string `json:"sections"`
		Draft    bool     `json:"draft"`
	}
	if err := json.Unmarshal([]byte(cc.Choices[0].Message.Content), &out); err != nil {
		t.Fatalf("%v: %q", err, cc.Choices[0].Message.Content)
	}
	if out.Title == "" || len(out.Sections) != 3 || !out.Draft {
		t.Errorf("instance %+v", out)
	}
}

func TestOpenAIStream(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	c := openaiClient(srv)
	p := chatParams("Tell me about tidal power in the north")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	full, err := c.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	stream := c.Chat.Completions.NewStreaming(context.Background(), p)
	defer stream.Close()
	acc := openai.ChatCompletionAccumulator{}
	n := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		n++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != full.Choices[0].Message.Content || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("streamed %q (%s), want %q", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason, full.Choices[0].Message.Content)
	}
	if acc.Usage.CompletionTokens != full.Usage.CompletionTokens {
		t.Errorf("usage chunk %+v", acc.Usage)
	}
}

func TestOpenAIErrors(t *testing.T) {
	for _, tc := range []struct {
		script, typ, code, param string
		status                   int
		header, noHeader         string
	}{
		{script: "error 429 retry-after=1", status: 429, typ: "requests", code: "rate_limit_exceeded", header: "retry-after: 1"},
		{script: "error 500", status: 500, typ: "server_error"},
		{script: "error 503 retry-after-ms=20", status: 503, typ: "server_error", code: "server_is_overloaded", header: "retry-after-ms: 20"},
		{script: "error 529", status: 529, typ: "server_error"},
		{script: "error 401", status: 401, typ: "invalid_request_error", code: "invalid_api_key"},
		{script: "error 404", status: 404, typ: "invalid_request_error", code: "model_not_found"},
		{script: "error 500 should-retry=false", status: 500, typ: "server_error", header: "x-should-retry: false"},
		{script: "quota", status: 429, typ: "insufficient_quota", code: "insufficient_quota", noHeader: "retry-after"},
		{script: "context-overflow", status: 400, typ: "invalid_request_error", code: "context_length_exceeded", param: "messages"},
		{script: "error 400 type=invalid_request_error code=invalid_value", status: 400, typ: "invalid_request_error", code: "invalid_value"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			srv := fakellm.NewServer(t, tc.script)
			_, err := openaiClient(srv).Chat.Completions.New(context.Background(), chatParams("hello"))
			var oe *openai.Error
			if !errors.As(err, &oe) {
				t.Fatalf("err %v (%T)", err, err)
			}
			if oe.StatusCode != tc.status || oe.Type != tc.typ || oe.Code != tc.code || oe.Param != tc.param {
				t.Errorf("got %d %q %q %q, want %d %q %q %q", oe.StatusCode, oe.Type, oe.Code, oe.Param, tc.status, tc.typ, tc.code, tc.param)
			}
			if oe.Message == "" || !strings.HasPrefix(oe.Response.Header.Get("x-request-id"), "req_fake_") {
				t.Errorf("message %q request id %q", oe.Message, oe.Response.Header.Get("x-request-id"))
			}
			if tc.header != "" {
				k, v, _ := strings.Cut(tc.header, ": ")
				if got := oe.Response.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.noHeader != "" && oe.Response.Header.Get(tc.noHeader) != "" {
				t.Errorf("header %s present", tc.noHeader)
			}
			if oe.Response.Header.Get("x-ratelimit-remaining-requests") == "" {
				t.Error("error without x-ratelimit headers")
			}
		})
	}
}

// TestOpenAIQuotaIsRetriedBySDK pins the SDK behaviour the reference describes: openai-go
// retries a 429 insufficient_quota like any 429, so the fake must not add hints that would change it.
func TestOpenAIQuotaIsRetriedBySDK(t *testing.T) {
	srv := fakellm.NewServer(t, "quota")
	_, err := openaiClient(srv, option.WithMaxRetries(1), option.WithMaxRetryDelay(time.Millisecond)).Chat.Completions.New(context.Background(), chatParams("hello"))
	if err == nil {
		t.Fatal("no error")
	}
	if n := srv.Counters().Requests; n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func openaiStream(t *testing.T, srv *fakellm.Server, p openai.ChatCompletionNewParams) (openai.ChatCompletionAccumulator, int, error) {
	t.Helper()
	stream := openaiClient(srv).Chat.Completions.NewStreaming(context.Background(), p)
	defer stream.Close()
	acc := openai.ChatCompletionAccumulator{}
	n := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		n++
	}
	return acc, n, stream.Err()
}

func TestOpenAIStreamFaults(t *testing.T) {
	long := chatParams("one two three four five six seven eight nine ten")
	t.Run("stream-error", func(t *testing.T) {
		srv := fakellm.NewServer(t, "stream-error after=2")
		_, n, err := openaiStream(t, srv, long)
		var se *ssestream.StreamError
		if !errors.As(err, &se) || n != 2 {
			t.Fatalf("err %v (%T) after %d chunks", err, err, n)
		}
		if !strings.Contains(string(se.Event.Data), `"type":"server_error"`) {
			t.Errorf("event %s", se.Event.Data)
		}
	})
	t.Run("cut", func(t *testing.T) {
		srv := fakellm.NewServer(t, "cut after=2")
		_, n, err := openaiStream(t, srv, long)
		if err == nil || !strings.Contains(err.Error(), "unexpected EOF") || n != 2 {
			t.Fatalf("err %v after %d", err, n)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		srv := fakellm.NewServer(t, "truncate after=2")
		acc, n, err := openaiStream(t, srv, long)
		if err != nil || n != 2 || acc.Choices[0].FinishReason != "" {
			t.Fatalf("err %v after %d, finish %q: want a silent truncation", err, n, acc.Choices[0].FinishReason)
		}
	})
	t.Run("truncate before DONE", func(t *testing.T) {
		srv := fakellm.NewServer(t, "truncate after=100")
		acc, _, err := openaiStream(t, srv, long)
		if err != nil || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("err %v finish %q", err, acc.Choices[0].FinishReason)
		}
	})
	t.Run("length", func(t *testing.T) {
		srv := fakellm.NewServer(t, "max-tokens")
		acc, _, err := openaiStream(t, srv, long)
		if err != nil || acc.Choices[0].FinishReason != "length" {
			t.Fatalf("err %v finish %q", err, acc.Choices[0].FinishReason)
		}
	})
	t.Run("refusal", func(t *testing.T) {
		srv := fakellm.NewServer(t, "refusal")
		acc, _, err := openaiStream(t, srv, long)
		if err != nil || acc.Choices[0].Message.Refusal == "" {
			t.Fatalf("err %v refusal %q", err, acc.Choices[0].Message.Refusal)
		}
	})
}

func TestOpenAISoftFailures(t *testing.T) {
	srv := fakellm.NewServer(t, "max-tokens req=1\nrefusal req=2\ncontent-filter req=3\nnot-json req=4")
	c := openaiClient(srv)
	ctx := context.Background()
	cc, err := c.Chat.Completions.New(ctx, chatParams("one two three four"))
	if err != nil || cc.Choices[0].FinishReason != "length" {
		t.Fatalf("err %v finish %q", err, cc.Choices[0].FinishReason)
	}
	cc, err = c.Chat.Completions.New(ctx, chatParams("pick a lock"))
	if err != nil || cc.Choices[0].Message.Refusal == "" || cc.Choices[0].Message.Content != "" {
		t.Fatalf("err %v message %+v", err, cc.Choices[0].Message)
	}
	cc, err = c.Chat.Completions.New(ctx, chatParams("pick a lock"))
	if err != nil || cc.Choices[0].FinishReason != "content_filter" {
		t.Fatalf("err %v finish %q", err, cc.Choices[0].FinishReason)
	}
	cc, err = c.Chat.Completions.New(ctx, chatParams("answer in JSON"))
	if err != nil || json.Valid([]byte(cc.Choices[0].Message.Content)) {
		t.Fatalf("err %v content %q", err, cc.Choices[0].Message.Content)
	}
	cc, err = c.Chat.Completions.New(ctx, chatParams("answer in JSON"))
	if err != nil || !json.Valid([]byte(cc.Choices[0].Message.Content)) {
		t.Fatalf("err %v content %q", err, cc.Choices[0].Message.Content)
	}
}

func TestOpenAITransportFaults(t *testing.T) {
	srv := fakellm.NewServer(t, "hang req=1\nreset req=2\nmalformed req=3")
	c := openaiClient(srv, option.WithRequestTimeout(100*time.Millisecond))
	ctx := context.Background()
	if _, err := c.Chat.Completions.New(ctx, chatParams("a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	var oe *openai.Error
	if _, err := c.Chat.Completions.New(ctx, chatParams("a")); err == nil || errors.As(err, &oe) {
		t.Errorf("reset: %v", err)
	}
	if _, err := c.Chat.Completions.New(ctx, chatParams("a")); err == nil || errors.As(err, &oe) {
		t.Errorf("malformed: %v", err)
	}
}

func TestOpenAIStreamMalformedAndStall(t *testing.T) {
	srv := fakellm.NewServer(t, "malformed after=1 req=1\nstall after=2 req=2")
	_, n, err := openaiStream(t, srv, chatParams("one two three four five six"))
	if err == nil || n != 1 {
		t.Fatalf("malformed: err %v after %d chunks", err, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	stream := openaiClient(srv).Chat.Completions.NewStreaming(ctx, chatParams("one two three four five six"))
	defer stream.Close()
	n = 0
	for stream.Next() {
		n++
	}
	if !errors.Is(stream.Err(), context.DeadlineExceeded) || n != 2 {
		t.Fatalf("stall: err %v after %d chunks", stream.Err(), n)
	}
}

func TestOpenAIToolCalls(t *testing.T) {
	srv := fakellm.NewServer(t, "tool-use")
	p := chatParams("what is the weather in Paris")
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name:       "get_weather",
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}},
	})}
	c := openaiClient(srv)
	cc, err := c.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	ch := cc.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.ToolCalls[0].Function.Name != "get_weather" {
		t.Fatalf("finish %q calls %+v", ch.FinishReason, ch.Message.ToolCalls)
	}
	args := ch.Message.ToolCalls[0].Function.Arguments
	var in struct{ Location string }
	if err := json.Unmarshal([]byte(args), &in); err != nil || in.Location == "" {
		t.Errorf("arguments %q (%v)", args, err)
	}
	acc, _, err := openaiStream(t, srv, p)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].FinishReason != "tool_calls" || len(acc.Choices[0].Message.ToolCalls) != 1 || acc.Choices[0].Message.ToolCalls[0].Function.Arguments != args {
		t.Errorf("streamed %+v", acc.Choices[0])
	}
}
