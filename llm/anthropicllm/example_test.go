package anthropicllm_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
)

// Wrap your configured client: the SDK's retries are turned off inside, and every failure comes
// back classified.
func ExampleNew() {
	h, _ := fakellm.New("quota req=2", fakellm.Options{}) // the second request hits a spend limit
	srv := fakellm.Serve(h)
	defer srv.Close()

	client := anthropic.NewClient(option.WithAPIKey("sk-ant-example"), option.WithBaseURL(srv.AnthropicBaseURL))
	haiku := anthropicllm.New(client, "claude-haiku-4-5")
	model, err := llm.Resilient(haiku, llm.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}

	req := llm.Request{Messages: []llm.Message{llm.User("Hello")}, MaxTokens: 256}
	resp, err := model.Generate(context.Background(), req)
	fmt.Println(resp.Provenance.Model, resp.StopReason, err)

	_, err = model.Generate(context.Background(), req)
	class, _ := rebound.Classify(err)
	fmt.Println(class, rebound.Retriable(err)) // sent once: no retry of a spent quota
	// Output:
	// anthropic/claude-haiku-4-5 end_turn <nil>
	// quota false
}

// A tool: define it, get the model's call, send its result back (in a user turn of tool
// results), get the answer.
func ExampleModel_tools() {
	srv := fakellm.Serve(must(fakellm.New("ok result=get_weather\ntool-use name=get_weather input='{\"city\":\"Paris\"}'", fakellm.Options{})))
	defer srv.Close()
	model := anthropicllm.New(anthropic.NewClient(option.WithAPIKey("sk-ant-example"), option.WithBaseURL(srv.AnthropicBaseURL)), "claude-haiku-4-5")

	req := llm.Request{
		Messages: []llm.Message{llm.User("Weather in Paris?")},
		Tools: []llm.Tool{{Name: "get_weather", Description: "The weather in a city.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}},
	}
	resp, _ := model.Generate(context.Background(), req)
	call := resp.ToolCalls()[0]
	fmt.Println(resp.StopReason, call.Name, string(call.Input))

	req.Messages = append(req.Messages, resp.Message(), rebound.ToolResults(rebound.ToolResult(call.ID, "18°C, sunny", false)))
	resp, err := model.Generate(context.Background(), req)
	fmt.Println(resp.StopReason, len(resp.ToolCalls()), err)
	// Output:
	// tool_use get_weather {"city":"Paris"}
	// end_turn 0 <nil>
}

func must(h *fakellm.Handler, err error) *fakellm.Handler {
	if err != nil {
		panic(err)
	}
	return h
}
