package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rebound-go/rebound/gateway"
)

// TestMetricsAndSpans: each answer counts once in its series (upstream, model, fallback,
// stream outcome), and with a recording tracer each request has its span, with the attempts'
// failures as events and the outcome as attributes.
func TestMetricsAndSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	r := newRig(t, "error 529 model=claude-a\n", baseConfig, func(o *gateway.Options) { o.TracerProvider = tp })
	ctx := context.Background()
	for range 2 {
		if _, err := r.anthropic().Messages.New(ctx, msgParams("claude-a", "fall back")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.openai().Chat.Completions.New(ctx, chatParams("gpt-a", "answer")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := streamOpenAI(ctx, r.openai(), chatParams("gpt-a", "stream")); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(r.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`rebound_gateway_requests_total{api="messages",fallback="true",model="claude-b",outcome="ok",upstream="ant"} 2`,
		`rebound_gateway_requests_total{api="chat_completions",fallback="false",model="gpt-a",outcome="ok",upstream="oai"} 3`,
		`rebound_gateway_streams_total{api="chat_completions",outcome="complete"} 2`,
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(string(b), "rebound_gateway_"))
		}
	}
	if strings.Contains(string(b), `model="claude-a",outcome="ok"`) {
		t.Errorf("a series of a success that did not happen:\n%s", grepLines(string(b), "rebound_gateway_requests_total"))
	}

	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if n := len(byName["gateway messages"]); n != 2 {
		t.Fatalf("%d spans named gateway messages, want 2 (spans: %v)", n, byName)
	}
	if n := len(byName["gateway chat_completions"]); n != 3 {
		t.Errorf("%d spans named gateway chat_completions, want 3", n)
	}
	s := byName["gateway messages"][0]
	attrs := map[string]string{}
	for _, kv := range s.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["rebound.model"] != "claude-b" || attrs["rebound.degraded"] != "true" || attrs["rebound.outcome"] != "ok" || attrs["rebound.attempts"] != "3" {
		t.Errorf("span attributes %v: want claude-b, degraded, ok, 3 attempts", attrs)
	}
	failed := 0
	for _, ev := range s.Events() {
		if ev.Name == "attempt failed" {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d attempt failed events, want 2 (the two attempts on claude-a)", failed)
	}
}
