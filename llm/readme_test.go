package llm_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
)

// readmeModels are the README's lines that build its models: one Config, with one Limiter and
// one retry budget, for both models on the key. TestREADMEModelsSharePacing runs them.
var readmeModels = []string{
	`cfg := llm.Config{`,
	`	Limiter: ratelimit.New(ratelimit.Config{Name: "anthropic"}), // one key: one limiter`,
	`	Retry:   retry.Policy{Budget: new(retry.Budget)},            // and one retry budget`,
	`}`,
	`sonnet, err := llm.Resilient(anthropicllm.New(client, "claude-sonnet-4-6"), cfg)`,
	`haiku, err := llm.Resilient(anthropicllm.New(client, "claude-haiku-4-5"), cfg)`,
}

// TestREADMEModelsSharePacing: the README's two models on one API key, built as the README builds
// them, share one pacing and stay under the key's limit: 32 agents, half on each model, for 3 s
// against fakellm limiting the key to 20 requests a second, and no request answered 429. Built
// the way the README once showed (llm.Config{} for each, a limiter per model), each limiter
// paces as if it had the key alone; the test logs how many 429s that draws.
func TestREADMEModelsSharePacing(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range readmeModels {
		if !strings.Contains(string(readme), line+"\n") {
			t.Fatalf("the README no longer has the line %q: keep readmeModels and the code below in step with it", line)
		}
	}
	shared := func(client anthropic.Client) (llm.Model, llm.Model) {
		cfg := llm.Config{
			Limiter: ratelimit.New(ratelimit.Config{Name: "anthropic"}), // one key: one limiter
			Retry:   retry.Policy{Budget: new(retry.Budget)},            // and one retry budget
		}
		sonnet, err := llm.Resilient(anthropicllm.New(client, "claude-sonnet-4-6"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		haiku, err := llm.Resilient(anthropicllm.New(client, "claude-haiku-4-5"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return sonnet, haiku
	}
	separate := func(client anthropic.Client) (llm.Model, llm.Model) {
		sonnet, err := llm.Resilient(anthropicllm.New(client, "claude-sonnet-4-6"), llm.Config{})
		if err != nil {
			t.Fatal(err)
		}
		haiku, err := llm.Resilient(anthropicllm.New(client, "claude-haiku-4-5"), llm.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return sonnet, haiku
	}
	if n := tooMany(t, shared); n != 0 {
		t.Errorf("the README's models: %d requests answered 429, want none", n)
	}
	t.Logf("a limiter per model: %d requests answered 429", tooMany(t, separate))
}

// tooMany runs 32 agents for 3 s on the two models build returns, over one key limited to 20
// requests a second, and returns how many requests were answered 429.
func tooMany(t *testing.T, build func(anthropic.Client) (llm.Model, llm.Model)) int {
	srv := fakellm.NewServer(t, "limit rps=20 burst=20\nlatency 50ms\n")
	client := anthropic.NewClient(aoption.WithAPIKey("sk-ant-readme"), aoption.WithBaseURL(srv.AnthropicBaseURL),
		aoption.WithHTTPClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}))
	a, b := build(client)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	req := llm.Request{Messages: []llm.Message{llm.User("Draft the next section.")}, MaxTokens: 64}
	var wg sync.WaitGroup
	for i := range 32 {
		m := a
		if i%2 == 1 {
			m = b
		}
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = m.Generate(ctx, req)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, r := range srv.Requests() {
		if r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}
