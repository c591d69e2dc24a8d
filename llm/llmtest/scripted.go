package llmtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
)

// Scripted is an llm.Model, named "test/scripted", that answers the n-th request (from 0) with
// Script[n] and keeps every request; a request past the script's end fails permanently. Stream
// answers as Generate does, without deltas. It is safe for concurrent use.
type Scripted struct {
	Script []*llm.Response

	mu   sync.Mutex
	reqs []llm.Request
}

var _ llm.Model = (*Scripted)(nil)

func (m *Scripted) Name() string       { return "test/scripted" }
func (m *Scripted) ContextWindow() int { return 0 }

func (m *Scripted) Generate(_ context.Context, req llm.Request) (*llm.Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.reqs)
	m.reqs = append(m.reqs, req)
	if n >= len(m.Script) {
		return nil, rebound.Permanent(fmt.Errorf("scripted model: no answer %d", n))
	}
	r := *m.Script[n]
	r.Provenance.Model = m.Name()
	return &r, nil
}

func (m *Scripted) Stream(ctx context.Context, req llm.Request, _ func(llm.Delta)) (*llm.Response, error) {
	return m.Generate(ctx, req)
}

// Requests returns the requests the model got, oldest first.
func (m *Scripted) Requests() []llm.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]llm.Request(nil), m.reqs...)
}

// Calls is how many requests the model got.
func (m *Scripted) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reqs)
}

// Last is the latest request; it panics before the first.
func (m *Scripted) Last() llm.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reqs[len(m.reqs)-1]
}

// Reset forgets the requests: the next one gets Script[0] again.
func (m *Scripted) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs = nil
}
