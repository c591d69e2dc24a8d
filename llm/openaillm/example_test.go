package openaillm_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/openaillm"
)

// Wrap your configured client: the SDK's retries are turned off inside (it would retry an
// insufficient_quota 429 three times), and every failure comes back classified.
func ExampleNew() {
	h, _ := fakellm.New("quota req=2", fakellm.Options{}) // the second request: insufficient_quota
	srv := fakellm.Serve(h)
	defer srv.Close()

	client := openai.NewClient(option.WithAPIKey("sk-example"), option.WithBaseURL(srv.OpenAIBaseURL))
	gpt := openaillm.New(client, "gpt-4o", openaillm.WithContextWindow(128_000))
	model, err := llm.Resilient(gpt, llm.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}

	req := llm.Request{Messages: []llm.Message{llm.User("Hello")}}
	var streamed string
	resp, err := model.Stream(context.Background(), req, func(d llm.Delta) { streamed += d.Text })
	fmt.Println(resp.Provenance.Model, resp.StopReason, streamed == resp.Text, err)

	_, err = model.Generate(context.Background(), req)
	class, _ := rebound.Classify(err)
	fmt.Println(class, rebound.Retriable(err)) // sent once: no retry of a spent quota
	// Output:
	// openai/gpt-4o end_turn true <nil>
	// quota false
}

// A tool: define it, get the model's call, send its result back. A failed result (IsError) goes
// to OpenAI as a tool message whose text starts "Error: ", as Chat Completions has no error flag.
func ExampleModel_tools() {
	h, _ := fakellm.New("ok result=get_weather\ntool-use name=get_weather input='{\"city\":\"Paris\"}'", fakellm.Options{})
	srv := fakellm.Serve(h)
	defer srv.Close()
	model := openaillm.New(openai.NewClient(option.WithAPIKey("sk-example"), option.WithBaseURL(srv.OpenAIBaseURL)), "gpt-4o")

	req := llm.Request{
		Messages: []llm.Message{llm.User("Weather in Paris?")},
		Tools: []llm.Tool{{Name: "get_weather", Description: "The weather in a city.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}},
	}
	resp, _ := model.Generate(context.Background(), req)
	call := resp.ToolCalls()[0]
	fmt.Println(resp.StopReason, call.Name, string(call.Input))

	req.Messages = append(req.Messages, resp.Message(), rebound.ToolResults(rebound.ToolResult(call.ID, "weather service down", true)))
	resp, err := model.Generate(context.Background(), req)
	fmt.Println(resp.StopReason, len(resp.ToolCalls()), err)
	// Output:
	// tool_use get_weather {"city":"Paris"}
	// end_turn 0 <nil>
}
