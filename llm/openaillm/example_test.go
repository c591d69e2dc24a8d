package openaillm_test

import (
	"context"
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
