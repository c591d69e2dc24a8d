package main

import (
	"context"
	"fmt"

	"github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/store/sqlite"
)

// parts are the report's steps, each with what it asks the model for.
var parts = []struct{ step, ask string }{
	{"outline", "Outline a short report on %q: a title and three section headings."},
	{"section_1", "Write section 1 of the report on %q, under the outline's first heading."},
	{"section_2", "Write section 2 of the report on %q, under the outline's second heading."},
	{"section_3", "Write section 3 of the report on %q, under the outline's third heading."},
	{"summary", "Summarise the report on %q in three sentences."},
}

// writeReport runs the report on topic as the durable run runID. It returns nil, or why the
// run failed, or that it waits in the escalation queue: errors.Is(err, checkpoint.ErrEscalated).
func writeReport(ctx context.Context, runID, topic string, publish func(context.Context) (string, error)) error {
	store, err := sqlite.Open(ctx, "rebound.db") // or postgres.Open(ctx, dsn) for a fleet
	if err != nil {
		return err
	}
	defer store.Close()
	queue := escalate.NewQueue(store, escalate.Config{})
	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue})

	// The key comes from ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL=http://127.0.0.1:8089 (or
	// option.WithBaseURL) points the SDK at `rebound fakellm`. The SDK's own retries are
	// turned off inside the adapter.
	client := anthropic.NewClient()
	cfg := llm.Config{
		Limiter: ratelimit.New(ratelimit.Config{Name: "anthropic"}), // one key: one limiter
		Retry:   retry.Policy{Budget: new(retry.Budget)},            // and one retry budget
	}
	sonnet, err := llm.Resilient(anthropicllm.New(client, "claude-sonnet-4-6"), cfg)
	if err != nil {
		return err // a setting out of range, named
	}
	haiku, err := llm.Resilient(anthropicllm.New(client, "claude-haiku-4-5"), cfg)
	if err != nil {
		return err
	}
	model := llm.Fallback(sonnet, haiku)

	return runner.Run(ctx, runID, func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("Research topic: "+topic)); err != nil {
			return err // journaled once; on resume recognised, not repeated
		}
		for _, p := range parts {
			if _, err := checkpoint.Step(ctx, run, p.step, func(ctx context.Context) (string, error) {
				ask := rebound.User(fmt.Sprintf(p.ask, topic)) // this step's part, in its own words
				resp, err := model.Generate(ctx, llm.Request{Messages: append(run.Messages(), ask), MaxTokens: 1024})
				if err != nil {
					return "", err // classified; a give-up escalates the run
				}
				return resp.Text, run.Append(ctx, ask, resp.Message()) // journaled with the step's result
			}); err != nil {
				return err
			}
		}
		_, err := checkpoint.Step(ctx, run, "publish", publish, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	})
}
