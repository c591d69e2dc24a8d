package anthropicllm_test

import (
	"context"
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
