package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/gateway"
)

const (
	upstreamKey = "sk-upstream-7f3a9c-NEVER-LEAK"
	clientKey   = "gw-client-key-0123456789"
)

// rig is a gateway in front of a fakellm, with its log.
type rig struct {
	fake *fakellm.Server
	gw   *gateway.Gateway
	srv  *httptest.Server
	log  *bytes.Buffer
}

// newRig starts a fakellm running script (accepting only upstreamKey) and a gateway in front
// of it configured by cfg (YAML), where FAKE stands for the fake's URL; opts change the
// gateway's Options.
func newRig(t testing.TB, script, cfg string, opts ...func(*gateway.Options)) *rig {
	t.Helper()
	h, err := fakellm.New(script, fakellm.Options{Key: upstreamKey})
	if err != nil {
		t.Fatal(err)
	}
	fake := fakellm.Serve(h)
	t.Cleanup(fake.Close)
	c, err := gateway.Parse("test.yaml", []byte(strings.ReplaceAll(cfg, "FAKE", fake.URL)))
	if err != nil {
		t.Fatal(err)
	}
	log := new(bytes.Buffer)
	env := map[string]string{"UP_KEY": upstreamKey, "GW_KEY": clientKey}
	o := gateway.Options{
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: func(k string) string { return env[k] },
	}
	for _, f := range opts {
		f(&o)
	}
	gw, err := gateway.New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		srv.Close()
		gw.Close()
	})
	return &rig{fake: fake, gw: gw, srv: srv, log: log}
}

// baseConfig: one Anthropic and one OpenAI upstream on the fake, client keys, short timeouts,
// chains that fall back to a second model of the same provider.
const baseConfig = `
client_keys: [{env: GW_KEY}]
upstreams:
  - {name: ant, provider: anthropic, base_url: FAKE, key_env: UP_KEY, models: [claude-a, claude-b, claude-big]}
  - {name: oai, provider: openai, base_url: FAKE/v1, key_env: UP_KEY, models: [gpt-a, gpt-b, gpt-big]}
routes:
  claude-a: [ant, ant/claude-b]
  claude-small: [ant/claude-a, ant/claude-big]
  gpt-a: [oai, oai/gpt-b]
  gpt-small: [oai/gpt-a, oai/gpt-big]
policy:
  attempts: 2
  retry_base: 10ms
  max_retry_after: 2s
  first_token_timeout: 300ms
  idle_timeout: 300ms
  response_timeout: 2s
`

func (r *rig) anthropic(opts ...aoption.RequestOption) *anthropic.Client {
	c := r.anthropicClient(opts...)
	return &c
}

func (r *rig) anthropicClient(opts ...aoption.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]aoption.RequestOption{
		aoption.WithBaseURL(r.srv.URL), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0),
	}, opts...)...)
}

func (r *rig) openai(opts ...ooption.RequestOption) *openai.Client {
	c := r.openaiClient(opts...)
	return &c
}

func (r *rig) openaiClient(opts ...ooption.RequestOption) openai.Client {
	return openai.NewClient(append([]ooption.RequestOption{
		ooption.WithBaseURL(r.srv.URL + "/v1"), ooption.WithAPIKey(clientKey), ooption.WithMaxRetries(0),
	}, opts...)...)
}

func msgParams(model, text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	}
}

func chatParams(model, text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    openai.ChatModel(model),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	}
}

// streamAnthropic runs a streamed message through the SDK, accumulating it.
func streamAnthropic(ctx context.Context, c *anthropic.Client, p anthropic.MessageNewParams, opts ...aoption.RequestOption) (anthropic.Message, error) {
	s := c.Messages.NewStreaming(ctx, p, opts...)
	var msg anthropic.Message
	for s.Next() {
		if err := msg.Accumulate(s.Current()); err != nil {
			return msg, err
		}
	}
	return msg, s.Err()
}

// streamOpenAI runs a streamed chat completion through the SDK, accumulating it; done reports
// whether the stream ended with [DONE].
func streamOpenAI(ctx context.Context, c *openai.Client, p openai.ChatCompletionNewParams, opts ...ooption.RequestOption) (string, error) {
	s := c.Chat.Completions.NewStreaming(ctx, p, opts...)
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	if len(acc.Choices) == 0 {
		return "", errors.New("no choices")
	}
	return acc.Choices[0].Message.Content, nil
}

func text(m *anthropic.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

func TestForwardsBothAPIsStreamedAndNot(t *testing.T) {
	r := newRig(t, "", baseConfig)
	ctx := context.Background()
	var resp *http.Response
	msg, err := r.anthropic().Messages.New(ctx, msgParams("claude-a", "hello there gateway"), aoption.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text(msg), "hello there gateway") || msg.Model != "claude-a" {
		t.Errorf("answer %q from %q: want the fake's echo from claude-a", text(msg), msg.Model)
	}
	if resp.Header.Get(gateway.HeaderUpstream) != "ant" || resp.Header.Get(gateway.HeaderDegraded) != "false" || resp.Header.Get(gateway.HeaderAttempts) != "1" {
		t.Errorf("headers %v: want upstream ant, not degraded, 1 attempt", resp.Header)
	}
	smsg, err := streamAnthropic(ctx, r.anthropic(), msgParams("claude-a", "stream this please"))
	if err != nil || !strings.Contains(text(&smsg), "stream this please") || smsg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("stream: %q, stop %q, err %v: want the whole echo", text(&smsg), smsg.StopReason, err)
	}
	cc, err := r.openai().Chat.Completions.New(ctx, chatParams("gpt-a", "hello openai side"))
	if err != nil || !strings.Contains(cc.Choices[0].Message.Content, "hello openai side") {
		t.Fatalf("chat: %v, %v", cc, err)
	}
	got, err := streamOpenAI(ctx, r.openai(), chatParams("gpt-a", "stream openai side"))
	if err != nil || !strings.Contains(got, "stream openai side") {
		t.Errorf("chat stream: %q, %v", got, err)
	}
	n, err := r.anthropic().Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
		Model:    "claude-a",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("count me"))},
	})
	if err != nil || n.InputTokens <= 0 {
		t.Errorf("count_tokens: %v, %v", n, err)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	r := newRig(t, "error 529 times=1 retry-after-ms=400\n", baseConfig)
	var resp *http.Response
	start := time.Now()
	_, err := r.anthropic().Messages.New(context.Background(), msgParams("claude-a", "retry me"), aoption.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("answered after %s: the retry did not wait the 400 ms the upstream asked for", el)
	}
	if resp.Header.Get(gateway.HeaderAttempts) != "2" || resp.Header.Get(gateway.HeaderDegraded) != "false" ||
		!strings.Contains(resp.Header.Get(gateway.HeaderFailures), "ant/claude-a overloaded 529") {
		t.Errorf("headers %v: want 2 attempts on the primary, the 529 named", resp.Header)
	}
}

func TestFallbackMarked(t *testing.T) {
	r := newRig(t, "error 529 model=claude-a\nerror 503 model=gpt-a\n", baseConfig)
	var resp *http.Response
	msg, err := r.anthropic().Messages.New(context.Background(), msgParams("claude-a", "fall back please"), aoption.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Model != "claude-b" || resp.Header.Get(gateway.HeaderModel) != "claude-b" || resp.Header.Get(gateway.HeaderDegraded) != "true" {
		t.Errorf("model %q, headers %v: want claude-b marked degraded", msg.Model, resp.Header)
	}
	if f := resp.Header.Get(gateway.HeaderFailures); strings.Count(f, "ant/claude-a overloaded 529") != 2 {
		t.Errorf("failures %q: want both attempts on claude-a", f)
	}
	// Streamed, OpenAI: the same.
	var oresp *http.Response
	got, err := streamOpenAI(context.Background(), r.openai(), chatParams("gpt-a", "fall back stream"), ooption.WithResponseInto(&oresp))
	if err != nil || !strings.Contains(got, "fall back stream") {
		t.Fatalf("stream: %q, %v", got, err)
	}
	if oresp.Header.Get(gateway.HeaderModel) != "gpt-b" || oresp.Header.Get(gateway.HeaderDegraded) != "true" {
		t.Errorf("headers %v: want gpt-b marked degraded", oresp.Header)
	}
}

func TestContextOverflowFallsBackToLargerModel(t *testing.T) {
	r := newRig(t, "context-overflow model=claude-a\ncontext-overflow model=gpt-a\n", baseConfig)
	var resp *http.Response
	msg, err := r.anthropic().Messages.New(context.Background(), msgParams("claude-small", "a long prompt"), aoption.WithResponseInto(&resp))
	if err != nil || msg.Model != "claude-big" {
		t.Fatalf("%v, %v: want claude-big's answer", msg, err)
	}
	if resp.Header.Get(gateway.HeaderAttempts) != "2" || !strings.Contains(resp.Header.Get(gateway.HeaderFailures), "context_overflow 400") {
		t.Errorf("headers %v: want one attempt on claude-a (no retry of an overflow), then claude-big", resp.Header)
	}
	cc, err := r.openai().Chat.Completions.New(context.Background(), chatParams("gpt-small", "a long prompt"))
	if err != nil || cc.Model != "gpt-big" {
		t.Fatalf("%v, %v: want gpt-big's answer", cc, err)
	}
}

func TestInvalidRequestNotRetried(t *testing.T) {
	r := newRig(t, "error 400 type=invalid_request_error message=\"max_tokens: bad value\"\n", baseConfig)
	_, err := r.anthropic().Messages.New(context.Background(), msgParams("claude-a", "bad request"))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Type() != "invalid_request_error" {
		t.Fatalf("error %v: want the upstream's 400 invalid_request_error", err)
	}
	if n := r.fake.Counters().Requests; n != 1 {
		t.Errorf("the fake saw %d requests: want 1 (no retry, no fallback for an invalid request)", n)
	}
	if ae.Response.Header.Get("X-Should-Retry") != "false" {
		t.Errorf("x-should-retry %q: want false", ae.Response.Header.Get("X-Should-Retry"))
	}
}

func TestGatewayAuth(t *testing.T) {
	r := newRig(t, "", baseConfig)
	bad := anthropic.NewClient(aoption.WithBaseURL(r.srv.URL), aoption.WithAPIKey(upstreamKey), aoption.WithMaxRetries(0))
	_, err := (&bad).Messages.New(context.Background(), msgParams("claude-a", "hi"))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Type() != "authentication_error" {
		t.Errorf("anthropic with the upstream's key: %v; want 401 authentication_error from the gateway", err)
	}
	obad := openai.NewClient(ooption.WithBaseURL(r.srv.URL+"/v1"), ooption.WithAPIKey("nope"), ooption.WithMaxRetries(0))
	_, err = (&obad).Chat.Completions.New(context.Background(), chatParams("gpt-a", "hi"))
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 401 || oe.Code != "invalid_api_key" {
		t.Errorf("openai with a wrong key: %v; want 401 invalid_api_key", err)
	}
	if n := r.fake.Counters().Requests; n != 0 {
		t.Errorf("the fake saw %d requests: want none", n)
	}
	// A model the gateway does not route: 404 in the provider's shape.
	_, err = r.anthropic().Messages.New(context.Background(), msgParams("claude-unknown", "hi"))
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Type() != "not_found_error" {
		t.Errorf("unknown model: %v; want 404 not_found_error", err)
	}
	_, err = r.openai().Chat.Completions.New(context.Background(), chatParams("gpt-unknown", "hi"))
	if !errors.As(err, &oe) || oe.StatusCode != 404 || oe.Code != "model_not_found" {
		t.Errorf("unknown model: %v; want 404 model_not_found", err)
	}
}

func TestStreamCutAfterContentIsAnErrorNotAnAnswer(t *testing.T) {
	for _, fault := range []string{"cut after=6", "truncate after=6", "malformed after=6 stream=true", "stream-error after=6", "stall after=6"} {
		t.Run(fault, func(t *testing.T) {
			r := newRig(t, fault+"\n", baseConfig)
			msg, err := streamAnthropic(context.Background(), r.anthropic(), msgParams("claude-a", "one two three four five six seven eight nine ten"))
			if err == nil {
				t.Fatalf("the SDK got a complete answer %q (stop %q) from a broken stream", text(&msg), msg.StopReason)
			}
			if c := r.fake.Counters(); c.Requests+c.InFlight != 1 {
				t.Errorf("the fake saw %d requests: want 1 (no second stream spliced in after content)", c.Requests+c.InFlight)
			}
			_, err = streamOpenAI(context.Background(), r.openai(), chatParams("gpt-a", "one two three four five six seven eight nine ten"))
			if err == nil {
				t.Errorf("openai: the SDK got a complete answer from a broken stream")
			}
		})
	}
}

func TestStreamFailureBeforeContentIsRetried(t *testing.T) {
	// Before content: Anthropic's first three events (message_start, content_block_start,
	// ping) and OpenAI's first chunk (the role, no content) are held.
	for _, fault := range []string{"stream-error after=0", "stream-error after=1", "malformed after=1 stream=true", "stall after=1", "hang stream=true", "truncate after=1", "cut after=1", "reset"} {
		t.Run(fault, func(t *testing.T) {
			// One fault per API: the retry of each gets the answer.
			r := newRig(t, fault+" provider=anthropic times=1\n"+fault+" provider=openai times=1\n", baseConfig)
			var resp *http.Response
			msg, err := streamAnthropic(context.Background(), r.anthropic(), msgParams("claude-a", "recover before content"), aoption.WithResponseInto(&resp))
			if err != nil || msg.StopReason != anthropic.StopReasonEndTurn || !strings.Contains(text(&msg), "recover before content") {
				t.Fatalf("%q, %v: want the whole answer", text(&msg), err)
			}
			if resp.Header.Get(gateway.HeaderAttempts) != "2" {
				t.Errorf("attempts %q: want 2 (one failure before content, retried)", resp.Header.Get(gateway.HeaderAttempts))
			}
			var oresp *http.Response
			got, err := streamOpenAI(context.Background(), r.openai(), chatParams("gpt-a", "recover before content"), ooption.WithResponseInto(&oresp))
			if err != nil || !strings.Contains(got, "recover before content") {
				t.Fatalf("openai: %q, %v", got, err)
			}
		})
	}
}

func TestSilentUpstreamTimesOut(t *testing.T) {
	r := newRig(t, "hang model=claude-a\n", baseConfig)
	start := time.Now()
	var resp *http.Response
	msg, err := streamAnthropic(context.Background(), r.anthropic(), msgParams("claude-a", "anyone there"), aoption.WithResponseInto(&resp))
	if err != nil || msg.Model != "claude-b" {
		t.Fatalf("%v, %v: want claude-b's answer once claude-a's first token did not come", msg.Model, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("answered after %s", el)
	}
	if f := resp.Header.Get(gateway.HeaderFailures); !strings.Contains(f, "ant/claude-a timeout") {
		t.Errorf("failures %q: want the timeouts named", f)
	}
}

func TestUpstreamKeyNeverLeaks(t *testing.T) {
	// The upstream refuses the key (fakellm accepts only another one): the client sees the
	// gateway's words, never the upstream's, and the key is in no body, header, log or metric.
	h, err := fakellm.New("", fakellm.Options{Key: "the-real-key"})
	if err != nil {
		t.Fatal(err)
	}
	fake := fakellm.Serve(h)
	t.Cleanup(fake.Close)
	r := newRig(t, "", baseConfig)
	cfg := strings.ReplaceAll(baseConfig, "FAKE", fake.URL)
	c, err := gateway.Parse("leak.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	gw, err := gateway.New(c, gateway.Options{
		Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Getenv: func(k string) string { return map[string]string{"UP_KEY": upstreamKey, "GW_KEY": clientKey}[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srv := httptest.NewServer(gw)
	defer srv.Close()
	r.srv = srv
	var seen bytes.Buffer
	for _, stream := range []bool{false, true} {
		for _, path := range []string{"/v1/messages", "/v1/chat/completions"} {
			model := "claude-a"
			if path != "/v1/messages" {
				model = "gpt-a"
			}
			body := `{"model":"` + model + `","max_tokens":10,"stream":` + map[bool]string{false: "false", true: "true"}[stream] + `,"messages":[{"role":"user","content":"hi"}]}`
			req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
			req.Header.Set("x-api-key", clientKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("%s: status %d %s: want 502 (the upstream refused the gateway's key)", path, resp.StatusCode, b)
			}
			seen.Write(b)
			resp.Header.Write(&seen)
		}
	}
	mresp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	seen.Write(mb)
	seen.Write(log.Bytes())
	if bytes.Contains(seen.Bytes(), []byte(upstreamKey)) || bytes.Contains(seen.Bytes(), []byte("NEVER-LEAK")) {
		t.Errorf("the upstream key leaked:\n%s", seen.String())
	}
	if !bytes.Contains(mb, []byte(`rebound_gateway_requests_total{api="messages",fallback="true",model="claude-b",outcome="auth",upstream="ant"}`)) {
		t.Errorf("metrics lack the auth failures:\n%s", grepLines(string(mb), "rebound_gateway_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
