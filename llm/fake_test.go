package llm_test

import (
	"context"
	"sync"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/retry"
)

// model is an llm.Model whose calls are functions, for tests.
type model struct {
	name     string
	window   int
	mu       sync.Mutex
	calls    int
	generate func(ctx context.Context, n int, req llm.Request) (*llm.Response, error)
	stream   func(ctx context.Context, n int, req llm.Request, on func(llm.Delta)) (*llm.Response, error)
}

func (m *model) Name() string       { return m.name }
func (m *model) ContextWindow() int { return m.window }

func (m *model) next() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	return m.calls
}

func (m *model) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

func (m *model) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	return m.generate(ctx, m.next(), req)
}

func (m *model) Stream(ctx context.Context, req llm.Request, on func(llm.Delta)) (*llm.Response, error) {
	return m.stream(ctx, m.next(), req, on)
}

func answer(m *model, text string) *llm.Response {
	return &llm.Response{Text: text, StopReason: llm.StopEndTurn, Provenance: llm.Provenance{Model: m.name}}
}

func classErr(c rebound.Class) error { return &rebound.Error{Class: c, Message: c.String()} }

var retryTwice = retry.Policy{MaxAttempts: 2}
