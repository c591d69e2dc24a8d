package observe

import (
	"context"

	"github.com/rebound-go/rebound/llm"
)

// CountSuccesses wraps model so that each successful call counts in
// rebound_attempts_total{dependency=model.Name(),outcome="success"}. Wrap the bare model, inside
// llm.Resilient, so that every attempt is a call: the failed ones reach the metrics through the
// retry's attempt_failed events (Hook), the successful ones through this wrapper.
//
//	model, err := llm.Resilient(metrics.CountSuccesses(anthropicllm.New(client, "claude-x")), llm.Config{Hook: metrics.Hook()})
func (m *Metrics) CountSuccesses(model llm.Model) llm.Model {
	return &countingModel{Model: model, m: m}
}

type countingModel struct {
	llm.Model
	m *Metrics
}

func (c *countingModel) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	resp, err := c.Model.Generate(ctx, req)
	if err == nil {
		c.m.ObserveSuccess(c.Model.Name())
	}
	return resp, err
}

func (c *countingModel) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta)) (*llm.Response, error) {
	resp, err := c.Model.Stream(ctx, req, onDelta)
	if err == nil {
		c.m.ObserveSuccess(c.Model.Name())
	}
	return resp, err
}
