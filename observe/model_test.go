package observe_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/observe"
)

// flaky fails its first call with a 529, then answers.
type flaky struct{ calls int }

func (f *flaky) Name() string       { return "test/flaky" }
func (f *flaky) ContextWindow() int { return 1000 }
func (f *flaky) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	f.calls++
	if f.calls == 1 {
		return nil, &rebound.Error{Class: rebound.ClassOverloaded, Status: 529}
	}
	return &llm.Response{Text: "ok", StopReason: llm.StopEndTurn}, nil
}
func (f *flaky) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta)) (*llm.Response, error) {
	return f.Generate(ctx, req)
}

func TestCountSuccessesWithResilient(t *testing.T) {
	synctest.Test(t, testCountSuccesses) // the retry waits on the bubble's clock
}

func testCountSuccesses(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	model := mustResilient(t, m.CountSuccesses(&flaky{}), llm.Config{Hook: m.Hook()})
	if _, err := model.Generate(context.Background(), llm.Request{Messages: []llm.Message{llm.User("hi")}}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP rebound_attempts_total Calls made to a dependency, by outcome: success or the class of the failure.
# TYPE rebound_attempts_total counter
rebound_attempts_total{dependency="test/flaky",outcome="overloaded"} 1
rebound_attempts_total{dependency="test/flaky",outcome="success"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "rebound_attempts_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "rebound_retries_total"); n != 1 {
		t.Errorf("retries: %d series, want 1", n)
	}
}

func mustResilient(t testing.TB, m llm.Model, c llm.Config) *llm.ResilientModel {
	t.Helper()
	r, err := llm.Resilient(m, c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
