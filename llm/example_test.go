package llm_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"
)

// Wrap an Anthropic client and an OpenAI client, each in a few lines, and chain them: when the
// primary is overloaded, the fallback answers and the answer says so.
func Example() {
	// A fake server whose Claude model is overloaded (in real code: the providers).
	h, _ := fakellm.New("error 529 model=claude-sonnet-4-6", fakellm.Options{})
	srv := fakellm.Serve(h)
	defer srv.Close()

	sonnet := anthropicllm.New(anthropic.NewClient(aoption.WithAPIKey("sk-ant-example"), aoption.WithBaseURL(srv.AnthropicBaseURL)), "claude-sonnet-4-6")
	gpt := openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-example"), ooption.WithBaseURL(srv.OpenAIBaseURL)), "gpt-4o")

	breakers, _ := breaker.NewSet(breaker.SetConfig{})
	cfg := llm.Config{Breakers: breakers, Retry: retry.Policy{MaxAttempts: 2, Base: 1, Budget: new(retry.Budget)}}
	primary, err := llm.Resilient(sonnet, cfg)
	if err != nil {
		fmt.Println(err) // a setting out of range, named
		return
	}
	fallback, err := llm.Resilient(gpt, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	model := llm.FallbackWith(llm.FallbackConfig{Hook: func(_ context.Context, e rebound.Event) {
		fmt.Printf("%s: %s -> %s (%s)\n", e.Kind, e.From, e.To, e.Class)
	}}, primary, fallback)

	resp, err := model.Generate(context.Background(), llm.Request{Messages: []llm.Message{llm.User("Hello")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("answered by", resp.Provenance.Model, "degraded:", resp.Provenance.Degraded)
	for _, f := range resp.Provenance.Failures {
		fmt.Println("failed before:", f.Model, f.Class)
	}
	// Output:
	// fallback_used: anthropic/claude-sonnet-4-6 -> openai/gpt-4o (overloaded)
	// answered by openai/gpt-4o degraded: true
	// failed before: anthropic/claude-sonnet-4-6 overloaded
}

// Structured decodes a JSON answer into a Go type, re-asking when the answer is not usable.
func ExampleStructured() {
	// The first answer is prose; Structured sends it back, and the second is the JSON asked for.
	h, _ := fakellm.New("not-json times=1", fakellm.Options{})
	srv := fakellm.Serve(h)
	defer srv.Close()
	haiku := anthropicllm.New(anthropic.NewClient(aoption.WithAPIKey("sk-ant-example"), aoption.WithBaseURL(srv.AnthropicBaseURL)), "claude-haiku-4-5")

	// The shape the fake answers with when asked for JSON.
	type answer struct {
		Reply string `json:"reply"`
		Echo  string `json:"echo"`
	}
	v, _, err := llm.Structured(context.Background(), haiku, llm.Request{
		Messages: []llm.Message{llm.User("Outline a report on Go error handling.")},
	}, llm.StructuredConfig[answer]{Validate: func(a answer) error {
		if a.Reply == "" {
			return errors.New("reply is empty")
		}
		return nil
	}})
	fmt.Println("decoded:", v.Reply != "")
	fmt.Println("error:", err)
	// Output:
	// decoded: true
	// error: <nil>
}

// A tool conversation through a Fallback chain: Anthropic calls the tool, then is overloaded,
// and OpenAI answers the next turn from the same neutral conversation (the call, its result).
func ExampleTool() {
	h, _ := fakellm.New("error 529 provider=anthropic req=2..\ntool-use name=get_weather provider=anthropic", fakellm.Options{})
	srv := fakellm.Serve(h)
	defer srv.Close()
	claude := anthropicllm.New(anthropic.NewClient(aoption.WithAPIKey("k"), aoption.WithBaseURL(srv.AnthropicBaseURL)), "claude-haiku-4-5")
	gpt := openaillm.New(openai.NewClient(ooption.WithAPIKey("k"), ooption.WithBaseURL(srv.OpenAIBaseURL)), "gpt-4o")
	model := llm.Fallback(claude, gpt)

	weather := llm.Tool{Name: "get_weather", Description: "The weather in a city.",
		InputSchema: []byte(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}
	req := llm.Request{Messages: []llm.Message{llm.User("Weather in Paris?")}, Tools: []llm.Tool{weather}}

	resp, _ := model.Generate(context.Background(), req)
	call := resp.ToolCalls()[0]
	fmt.Println(resp.Provenance.Model, "calls", call.Name)

	req.Messages = append(req.Messages, resp.Message(), rebound.ToolResults(rebound.ToolResult(call.ID, "18°C, sunny", false)))
	resp, err := model.Generate(context.Background(), req)
	fmt.Println(resp.Provenance.Model, resp.Provenance.Degraded, resp.StopReason, err)
	// Output:
	// anthropic/claude-haiku-4-5 calls get_weather
	// openai/gpt-4o true end_turn <nil>
}
