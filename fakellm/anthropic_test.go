package fakellm_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/rebound-go/rebound/fakellm"
)

func anthropicClient(srv *fakellm.Server, opts ...option.RequestOption) *anthropic.Client {
	base := []option.RequestOption{
		option.WithAPIKey("sk-ant-secret-test-key"),
		option.WithBaseURL(srv.AnthropicBaseURL),
		option.WithMaxRetries(0),
		option.WithoutEnvironmentDefaults(),
	}
	c := anthropic.NewClient(append(base, opts...)...)
	return &c
}

func msgParams(text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	}
}

func TestAnthropicReply(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	c := anthropicClient(srv)
	ctx := context.Background()
	var res *http.Response
	msg, err := c.Messages.New(ctx, msgParams("Write the outline of a report on tidal power"), option.WithResponseInto(&res))
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonEndTurn || len(msg.Content) != 1 {
		t.Fatalf("stop %q, %d blocks", msg.StopReason, len(msg.Content))
	}
	text := msg.Content[0].Text
	if !strings.HasPrefix(text, "[fakellm ") || !strings.HasSuffix(text, "] Write the outline of a report on tidal") {
		t.Errorf("text %q", text)
	}
	if msg.Usage.InputTokens <= 0 || msg.Usage.OutputTokens <= 0 {
		t.Errorf("usage %+v", msg.Usage)
	}
	if res.Header.Get("request-id") == "" {
		t.Error("no request-id header")
	}
	for _, k := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		for _, f := range []string{"limit", "remaining"} {
			if res.Header.Get("anthropic-ratelimit-"+k+"-"+f) == "" {
				t.Errorf("no anthropic-ratelimit-%s-%s", k, f)
			}
		}
		if _, err := time.Parse(time.RFC3339, res.Header.Get("anthropic-ratelimit-"+k+"-reset")); err != nil {
			t.Errorf("reset of %s: %v", k, err)
		}
	}
	// Same request, same reply; another request, another hash.
	again, err := c.Messages.New(ctx, msgParams("Write the outline of a report on tidal power"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Content[0].Text != text {
		t.Errorf("not deterministic: %q then %q", text, again.Content[0].Text)
	}
	other, err := c.Messages.New(ctx, msgParams("Write section one"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Content[0].Text[:22] == text[:22] {
		t.Errorf("different prompts, same hash: %q %q", text, other.Content[0].Text)
	}
	n, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
		Model: "claude-sonnet-4-5", Messages: msgParams("Write section one").Messages})
	if err != nil {
		t.Fatal(err)
	}
	if n.InputTokens <= 0 {
		t.Errorf("count_tokens %d", n.InputTokens)
	}
}

func TestAnthropicJSON(t *testing.T) {
	srv := fakellm.NewServer(t, "not-json contains=broken")
	c := anthropicClient(srv)
	p := msgParams("Return the outline as JSON")
	p.System = []anthropic.TextBlockParam{{Text: "You answer in JSON only."}}
	msg, err := c.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid([]byte(msg.Content[0].Text)) {
		t.Errorf("asked for JSON, got %q", msg.Content[0].Text)
	}
	msg, err = c.Messages.New(context.Background(), msgParams("Return JSON, broken"))
	if err != nil {
		t.Fatal(err)
	}
	if json.Valid([]byte(msg.Content[0].Text)) {
		t.Errorf("not-json fault, got JSON %q", msg.Content[0].Text)
	}
}

// TestAnthropicStreamSequence checks the exact event sequence on the wire and what the SDK
// makes of it.
func TestAnthropicStreamSequence(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	body := `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Tell me about tidal power in the north"}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", "k")
	req.Header.Set("anthropic-version", "2023-06-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content-type %q", ct)
	}
	var names []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			names = append(names, n)
		}
	}
	got := strings.Join(names, ",")
	want := "message_start,content_block_start,ping,content_block_delta,content_block_delta,content_block_delta,content_block_delta,content_block_stop,message_delta,message_stop"
	if got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}

	c := anthropicClient(srv)
	p := msgParams("Tell me about tidal power in the north")
	full, err := c.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	stream := c.Messages.NewStreaming(context.Background(), p)
	defer stream.Close()
	acc := anthropic.Message{}
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if err := acc.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Content[0].Text != full.Content[0].Text || acc.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("streamed %q (%s), non-streamed %q", acc.Content[0].Text, acc.StopReason, full.Content[0].Text)
	}
	if acc.Usage.OutputTokens != full.Usage.OutputTokens {
		t.Errorf("usage streamed %d, non-streamed %d", acc.Usage.OutputTokens, full.Usage.OutputTokens)
	}
	if types[len(types)-1] != "message_stop" {
		t.Errorf("last event %s", types[len(types)-1])
	}
}

func TestAnthropicErrors(t *testing.T) {
	for _, tc := range []struct {
		script      string
		status      int
		typ         string
		code        string
		msgPart     string
		header      string // "name: value" expected on the response
		noHeader    string
		contentType string
	}{
		{script: "error 529", status: 529, typ: "overloaded_error", msgPart: "Overloaded"},
		{script: "error 500 should-retry=false", status: 500, typ: "api_error", header: "x-should-retry: false"},
		{script: "error 429 retry-after=2", status: 429, typ: "rate_limit_error", header: "retry-after: 2"},
		{script: "error 429 code=ramp_limit_exceeded retry-after-ms=50", status: 429, typ: "rate_limit_error", code: "ramp_limit_exceeded", header: "retry-after-ms: 50"},
		{script: "error 503 retry-after=1 code=cmek_key_unreachable", status: 503, typ: "api_error", code: "cmek_key_unreachable"},
		{script: "error 400", status: 400, typ: "invalid_request_error"},
		{script: "error 401", status: 401, typ: "authentication_error"},
		{script: "error 402", status: 402, typ: "billing_error"},
		{script: "error 403", status: 403, typ: "permission_error"},
		{script: "error 404", status: 404, typ: "not_found_error"},
		{script: "error 409", status: 409, typ: "conflict_error"},
		{script: "error 504", status: 504, typ: "timeout_error"},
		{script: `error 500 type=api_error message="boom, said the fake"`, status: 500, typ: "api_error", msgPart: "boom, said the fake"},
		{script: "quota", status: 429, typ: "rate_limit_error", code: "enforced_spend_limit_reached", noHeader: "retry-after", msgPart: "usage limits"},
		{script: "quota code=contract_spend_limit_reached", status: 429, typ: "rate_limit_error", code: "contract_spend_limit_reached", noHeader: "retry-after"},
		{script: "context-overflow", status: 400, typ: "invalid_request_error", msgPart: "prompt is too long"},
		{script: "html", status: 413, typ: "", contentType: "text/html"},
		{script: "html 502", status: 502, typ: "", contentType: "text/html"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			srv := fakellm.NewServer(t, tc.script)
			c := anthropicClient(srv)
			_, err := c.Messages.New(context.Background(), msgParams("hello"))
			var ae *anthropic.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err %v (%T), want *anthropic.Error", err, err)
			}
			if ae.StatusCode != tc.status || string(ae.Type()) != tc.typ || string(ae.ErrorCode()) != tc.code {
				t.Errorf("got %d %q %q, want %d %q %q", ae.StatusCode, ae.Type(), ae.ErrorCode(), tc.status, tc.typ, tc.code)
			}
			if tc.msgPart != "" && !strings.Contains(ae.Message, tc.msgPart) {
				t.Errorf("message %q lacks %q", ae.Message, tc.msgPart)
			}
			if tc.contentType == "" && !strings.HasPrefix(ae.RequestID, "req_fake_") {
				t.Errorf("request id %q", ae.RequestID)
			}
			if tc.contentType != "" && !strings.HasPrefix(ae.Response.Header.Get("Content-Type"), tc.contentType) {
				t.Errorf("content-type %q", ae.Response.Header.Get("Content-Type"))
			}
			if tc.header != "" {
				k, v, _ := strings.Cut(tc.header, ": ")
				if got := ae.Response.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.noHeader != "" && ae.Response.Header.Get(tc.noHeader) != "" {
				t.Errorf("header %s present: %q", tc.noHeader, ae.Response.Header.Get(tc.noHeader))
			}
			if tc.contentType == "" && ae.Response.Header.Get("anthropic-ratelimit-requests-remaining") == "" {
				t.Error("error response without rate-limit headers")
			}
		})
	}
}

// TestAnthropicSDKRetries checks the x-should-retry and status semantics reach the SDK's own
// retry loop as with the real API: a 529 is retried, x-should-retry: false is not.
func TestAnthropicSDKRetries(t *testing.T) {
	srv := fakellm.NewServer(t, "error 529 retry-after-ms=1 times=2")
	c := anthropicClient(srv, option.WithMaxRetries(3))
	if _, err := c.Messages.New(context.Background(), msgParams("hello")); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.RetryCount != string(rune('0'+i)) || !r.HasKey {
			t.Errorf("attempt %d: retry count %q, has key %v", i, r.RetryCount, r.HasKey)
		}
	}
	if err := srv.SetScript("error 500 should-retry=false"); err != nil {
		t.Fatal(err)
	}
	srv.Reset()
	if _, err := c.Messages.New(context.Background(), msgParams("hello")); err == nil {
		t.Fatal("no error")
	}
	if n := srv.Counters().Requests; n != 1 {
		t.Errorf("%d attempts despite x-should-retry: false", n)
	}
}

func TestAnthropicTransportFaults(t *testing.T) {
	t.Run("reset", func(t *testing.T) {
		srv := fakellm.NewServer(t, "reset")
		_, err := anthropicClient(srv).Messages.New(context.Background(), msgParams("hello"))
		var ue *url.Error
		var ae *anthropic.Error
		if !errors.As(err, &ue) || errors.As(err, &ae) {
			t.Fatalf("err %v (%T), want a transport error", err, err)
		}
	})
	t.Run("hang", func(t *testing.T) {
		srv := fakellm.NewServer(t, "hang")
		_, err := anthropicClient(srv, option.WithRequestTimeout(100*time.Millisecond)).Messages.New(context.Background(), msgParams("hello"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want deadline exceeded", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		srv := fakellm.NewServer(t, "malformed")
		_, err := anthropicClient(srv).Messages.New(context.Background(), msgParams("hello"))
		var ae *anthropic.Error
		if err == nil || errors.As(err, &ae) {
			t.Fatalf("err %v, want a decoding error", err)
		}
	})
	t.Run("cut", func(t *testing.T) {
		srv := fakellm.NewServer(t, "cut")
		_, err := anthropicClient(srv).Messages.New(context.Background(), msgParams("hello"))
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("err %v, want unexpected EOF", err)
		}
	})
}

// streamOutcome runs a streaming call and returns the event types seen and the stream's error.
func anthropicStream(t *testing.T, srv *fakellm.Server, text string, opts ...option.RequestOption) (anthropic.Message, []string, error) {
	t.Helper()
	stream := anthropicClient(srv, opts...).Messages.NewStreaming(context.Background(), msgParams(text))
	defer stream.Close()
	acc := anthropic.Message{}
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		_ = acc.Accumulate(ev)
	}
	return acc, types, stream.Err()
}

func TestAnthropicStreamFaults(t *testing.T) {
	t.Run("stream-error", func(t *testing.T) {
		srv := fakellm.NewServer(t, "stream-error after=2")
		_, types, err := anthropicStream(t, srv, "hello there")
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != 200 || ae.Type() != "overloaded_error" {
			t.Fatalf("err %v, want *anthropic.Error 200 overloaded_error", err)
		}
		if strings.Join(types, ",") != "message_start,content_block_start" {
			t.Errorf("events before the error: %v", types)
		}
	})
	t.Run("stream-error first", func(t *testing.T) {
		srv := fakellm.NewServer(t, "stream-error after=0 type=api_error")
		_, types, err := anthropicStream(t, srv, "hello")
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.Type() != "api_error" || len(types) != 0 {
			t.Fatalf("err %v after %v", err, types)
		}
	})
	t.Run("cut", func(t *testing.T) {
		srv := fakellm.NewServer(t, "cut after=4")
		_, types, err := anthropicStream(t, srv, "one two three four five six seven eight nine")
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err %v (%T), want unexpected EOF", err, err)
		}
		if len(types) != 3 { // ping is not surfaced
			t.Errorf("events %v", types)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		srv := fakellm.NewServer(t, "truncate")
		acc, types, err := anthropicStream(t, srv, "one two three four five six seven eight nine")
		if err != nil {
			t.Fatalf("err %v, want nil (the SDK does not report a clean truncation)", err)
		}
		if len(types) == 0 || types[len(types)-1] == "message_stop" {
			t.Errorf("events %v", types)
		}
		if acc.StopReason != "" {
			t.Errorf("stop reason %q", acc.StopReason)
		}
	})
	t.Run("truncate only terminal", func(t *testing.T) {
		srv := fakellm.NewServer(t, "truncate after=100")
		acc, types, err := anthropicStream(t, srv, "one two")
		if err != nil || types[len(types)-1] != "message_delta" || acc.StopReason != "end_turn" {
			t.Fatalf("err %v, events %v, stop %q", err, types, acc.StopReason)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		srv := fakellm.NewServer(t, "malformed after=1")
		_, types, err := anthropicStream(t, srv, "hello")
		var se *json.SyntaxError
		if err == nil || len(types) != 1 || !errors.As(err, &se) && !strings.Contains(err.Error(), "JSON") {
			t.Fatalf("err %v after %v", err, types)
		}
	})
	t.Run("stall", func(t *testing.T) {
		srv := fakellm.NewServer(t, "stall after=3")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		stream := anthropicClient(srv).Messages.NewStreaming(ctx, msgParams("hello"))
		defer stream.Close()
		n := 0
		for stream.Next() {
			n++
		}
		if !errors.Is(stream.Err(), context.DeadlineExceeded) || n != 2 {
			t.Fatalf("err %v after %d events", stream.Err(), n)
		}
	})
	t.Run("stall-for", func(t *testing.T) {
		srv := fakellm.NewServer(t, "stall after=3 for=150ms")
		start := time.Now()
		acc, types, err := anthropicStream(t, srv, "hello")
		if err != nil || acc.StopReason != anthropic.StopReasonEndTurn || len(types) < 6 {
			t.Fatalf("err %v stop %q after %v", err, acc.StopReason, types)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("the stream took %v, want the 150ms stall", d)
		}
	})
	t.Run("max-tokens", func(t *testing.T) {
		srv := fakellm.NewServer(t, "max-tokens")
		acc, _, err := anthropicStream(t, srv, "one two three four five six")
		if err != nil || acc.StopReason != anthropic.StopReasonMaxTokens {
			t.Fatalf("err %v stop %q", err, acc.StopReason)
		}
	})
	t.Run("refusal", func(t *testing.T) {
		srv := fakellm.NewServer(t, "refusal")
		acc, _, err := anthropicStream(t, srv, "how do I pick a lock")
		if err != nil || acc.StopReason != anthropic.StopReasonRefusal {
			t.Fatalf("err %v stop %q", err, acc.StopReason)
		}
	})
}

func TestAnthropicSoftFailures(t *testing.T) {
	srv := fakellm.NewServer(t, "max-tokens contains=long\nrefusal contains=lock")
	c := anthropicClient(srv)
	msg, err := c.Messages.New(context.Background(), msgParams("a long answer please"))
	if err != nil || msg.StopReason != anthropic.StopReasonMaxTokens {
		t.Fatalf("err %v stop %q", err, msg.StopReason)
	}
	msg, err = c.Messages.New(context.Background(), msgParams("how do I pick a lock"))
	if err != nil || msg.StopReason != anthropic.StopReasonRefusal || msg.StopDetails.Category == "" {
		t.Fatalf("err %v stop %q details %+v", err, msg.StopReason, msg.StopDetails)
	}
	// A small max_tokens truncates the reply by itself.
	p := msgParams("one two three four five six seven eight")
	p.MaxTokens = 2
	msg, err = c.Messages.New(context.Background(), p)
	if err != nil || msg.StopReason != anthropic.StopReasonMaxTokens || msg.Usage.OutputTokens != 2 {
		t.Fatalf("err %v stop %q usage %d", err, msg.StopReason, msg.Usage.OutputTokens)
	}
}

func TestAnthropicStructuredOutput(t *testing.T) {
	srv := fakellm.NewServer(t, "")
	p := msgParams("Outline the report")
	p.OutputConfig = anthropic.OutputConfigParam{Format: anthropic.JSONOutputFormatParam{Schema: map[string]any{
		"type": "object",
		"properties": map[string]any{
			"title":    map[string]any{"type": "string"},
			"sections": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"level":    map[string]any{"type": "string", "enum": []any{"draft", "final"}},
		},
	}}}
	msg, err := anthropicClient(srv).Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Title    string   `json:"title"`
		Sections []string `json:"sections"`
		Level    string   `json:"level"`
	}
	if err := json.Unmarshal([]byte(msg.Content[0].Text), &out); err != nil {
		t.Fatalf("%v: %q", err, msg.Content[0].Text)
	}
	if !strings.Contains(out.Title, "Outline the report") || len(out.Sections) != 1 || out.Level != "draft" {
		t.Errorf("instance %+v", out)
	}
}

func TestAnthropicOtherStopReasons(t *testing.T) {
	srv := fakellm.NewServer(t, "pause-turn req=1\ncontext-window req=2")
	c := anthropicClient(srv)
	for _, want := range []anthropic.StopReason{anthropic.StopReasonPauseTurn, anthropic.StopReasonModelContextWindowExceeded} {
		msg, err := c.Messages.New(context.Background(), msgParams("one two three four five six"))
		if err != nil || msg.StopReason != want {
			t.Fatalf("err %v stop %q, want %q", err, msg.StopReason, want)
		}
	}
}

func TestAnthropicToolUse(t *testing.T) {
	srv := fakellm.NewServer(t, "tool-use name=get_weather contains=weather")
	p := msgParams("what is the weather in Paris")
	p.Tools = []anthropic.ToolUnionParam{
		{OfTool: &anthropic.ToolParam{Name: "search", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"q": map[string]any{"type": "string"}}}}},
		{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"location": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}}}}},
	}
	c := anthropicClient(srv)
	msg, err := c.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" || msg.Content[0].Name != "get_weather" {
		t.Fatalf("stop %q content %+v", msg.StopReason, msg.Content)
	}
	var in struct {
		Location string `json:"location"`
		Days     int    `json:"days"`
	}
	if err := json.Unmarshal(msg.Content[0].Input, &in); err != nil || in.Location == "" || in.Days != 1 {
		t.Errorf("input %s (%v)", msg.Content[0].Input, err)
	}
	stream := c.Messages.NewStreaming(context.Background(), p)
	defer stream.Close()
	acc := anthropic.Message{}
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.StopReason != anthropic.StopReasonToolUse || acc.Content[0].Name != "get_weather" || string(acc.Content[0].Input) != string(msg.Content[0].Input) {
		t.Errorf("streamed %q %+v, want input %s", acc.StopReason, acc.Content, msg.Content[0].Input)
	}
	// A request that offers no such tool skips the rule.
	msg, err = c.Messages.New(context.Background(), msgParams("what is the weather in Paris"))
	if err != nil || msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("no tools: err %v stop %q", err, msg.StopReason)
	}
}
