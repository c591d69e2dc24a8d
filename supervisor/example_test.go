package supervisor_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/supervisor"
)

func Example() {
	ctx := context.Background()
	pol, err := supervisor.ParsePolicy([]byte(`{
	  "version": "v1",
	  "min_confidence": 0.8,
	  "hold": "2m",
	  "rules": [
	    {"reason": "max_retries_exceeded", "when": ["@class == \"overloaded\""], "allow": ["retry"]}
	  ]
	}`))
	if err != nil {
		panic(err)
	}
	q := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	_, _ = q.Escalate(ctx, rebound.Escalation{RunID: "run-1", Step: "draft", Reason: rebound.ReasonMaxRetriesExceeded,
		Class: rebound.ClassOverloaded, Attempts: 5})
	_, _ = q.Escalate(ctx, rebound.Escalation{RunID: "run-2", Step: "pay", Reason: rebound.ReasonAmbiguousState})

	// A fake model that answers every review with a retry verdict.
	h, _ := fakellm.New(`tool-use name=verdict input='{"decision":"retry","rationale":"the overload is over","confidence":0.93}'`, fakellm.Options{})
	srv := fakellm.Serve(h)
	defer srv.Close()
	model := anthropicllm.New(anthropic.NewClient(option.WithBaseURL(srv.AnthropicBaseURL), option.WithAPIKey("k")), "claude-sonnet-4-5")

	s, err := supervisor.New(supervisor.Config{Queue: q, Model: model, Policy: pol, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	outs, _ := s.Once(ctx)
	for _, o := range outs {
		if o.Decision != nil {
			fmt.Printf("%s: %s %s by %q (confidence %.2f, hold %s)\n", o.RunID, o.Kind, o.Decision.Action, o.Decision.By, o.Decision.Confidence, o.Decision.Hold)
		} else {
			fmt.Printf("%s: %s: %s\n", o.RunID, o.Kind, o.Why)
		}
	}
	// Output:
	// run-1: resolved retry by "anthropic/claude-sonnet-4-5 policy:v1" (confidence 0.93, hold 2m0s)
	// run-2: routed: ambiguous_state: the supervisor can never decide whether an interrupted irreversible action took place
}
