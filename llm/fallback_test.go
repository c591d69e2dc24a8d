package llm_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
)

func failing(name string, window int, c rebound.Class) *model {
	m := &model{name: name, window: window}
	m.generate = func(context.Context, int, llm.Request) (*llm.Response, error) { return nil, classErr(c) }
	return m
}

func answering(name string, window int) *model {
	m := &model{name: name, window: window}
	m.generate = func(context.Context, int, llm.Request) (*llm.Response, error) { return answer(m, "from "+name), nil }
	return m
}

func TestFallbackMarksTheAnswer(t *testing.T) {
	a := failing("anthropic/a", 200_000, rebound.ClassOverloaded)
	b := answering("openai/b", 128_000)
	var ev llmtest.Events
	resp, err := llm.FallbackWith(llm.FallbackConfig{Hook: ev.Emit}, a, b).Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Provenance
	if p.Model != "openai/b" || !p.Degraded || len(p.Failures) != 1 || p.Failures[0].Model != "anthropic/a" || p.Failures[0].Class != rebound.ClassOverloaded {
		t.Errorf("provenance %+v", p)
	}
	if m := resp.Message(); !m.Degraded || m.Source != "openai/b" {
		t.Errorf("message %+v", m)
	}
	used := ev.Of(rebound.FallbackUsed)
	if len(used) != 1 || used[0].From != "anthropic/a" || used[0].To != "openai/b" {
		t.Errorf("fallback_used %+v", used)
	}
}

func TestFallbackPrimaryNotDegraded(t *testing.T) {
	resp, err := llm.Fallback(answering("anthropic/a", 1), answering("openai/b", 1)).Generate(context.Background(), req)
	if err != nil || resp.Provenance.Degraded || resp.Provenance.Model != "anthropic/a" {
		t.Fatalf("%+v %v", resp, err)
	}
}

func TestFallbackRules(t *testing.T) {
	tests := []struct {
		name   string
		models []*model
		cfg    llm.FallbackConfig
		want   string // model that answers; "" = none
	}{
		{"overloaded moves on", []*model{failing("anthropic/a", 1, rebound.ClassOverloaded), answering("anthropic/b", 1)}, llm.FallbackConfig{}, "anthropic/b"},
		{"quota skips the same provider", []*model{failing("anthropic/a", 1, rebound.ClassQuota), answering("anthropic/b", 1), answering("openai/c", 1)}, llm.FallbackConfig{}, "openai/c"},
		{"auth skips the same provider", []*model{failing("openai/a", 1, rebound.ClassAuth), answering("openai/b", 1), answering("anthropic/c", 1)}, llm.FallbackConfig{}, "anthropic/c"},
		{"quota on the same provider if allowed", []*model{failing("anthropic/a", 1, rebound.ClassQuota), answering("anthropic/b", 1)}, llm.FallbackConfig{SameProviderOnAccount: true}, "anthropic/b"},
		{"context overflow needs a larger window", []*model{failing("anthropic/a", 200_000, rebound.ClassContextOverflow), answering("openai/b", 128_000), answering("anthropic/c", 1_000_000)}, llm.FallbackConfig{}, "anthropic/c"},
		{"context overflow with no larger window", []*model{failing("anthropic/a", 200_000, rebound.ClassContextOverflow), answering("openai/b", 200_000)}, llm.FallbackConfig{}, ""},
		{"content policy moves on", []*model{failing("anthropic/a", 1, rebound.ClassContentPolicy), answering("openai/b", 1)}, llm.FallbackConfig{}, "openai/b"},
		{"content policy escalates", []*model{failing("anthropic/a", 1, rebound.ClassContentPolicy), answering("openai/b", 1)}, llm.FallbackConfig{ContentPolicy: llm.ContentPolicyEscalate}, ""},
		{"invalid never moves on", []*model{failing("anthropic/a", 1, rebound.ClassInvalid), answering("openai/b", 1)}, llm.FallbackConfig{}, ""},
		{"canceled never moves on", []*model{failing("anthropic/a", 1, rebound.ClassCanceled), answering("openai/b", 1)}, llm.FallbackConfig{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := make([]llm.Model, len(tt.models))
			for i, m := range tt.models {
				ms[i] = m
			}
			resp, err := llm.FallbackWith(tt.cfg, ms...).Generate(context.Background(), req)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("answered by %s", resp.Provenance.Model)
				}
				return
			}
			if err != nil || resp.Provenance.Model != tt.want {
				t.Fatalf("%+v %v, want %s", resp, err, tt.want)
			}
		})
	}
}

// Wrapped in Resilient, a quota failure reaches the chain at once, and an open breaker moves on
// without calling the model.
func TestFallbackOverResilient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := failing("anthropic/a", 1, rebound.ClassQuota)
		b := answering("openai/b", 1)
		start := time.Now()
		chain := llm.Fallback(mustResilient(t, a, llm.Config{}), mustResilient(t, b, llm.Config{}))
		resp, err := chain.Generate(context.Background(), req)
		if err != nil || resp.Provenance.Model != "openai/b" {
			t.Fatalf("%+v %v", resp, err)
		}
		if time.Since(start) != 0 || a.Calls() != 1 {
			t.Errorf("quota: %d calls to the primary over %v, want 1 at once", a.Calls(), time.Since(start))
		}

		down := failing("anthropic/down", 1, rebound.ClassOverloaded)
		rd := mustResilient(t, down, llm.Config{})
		chain = llm.Fallback(rd, mustResilient(t, b, llm.Config{}))
		for range 3 {
			resp, err := chain.Generate(context.Background(), req)
			if err != nil || !resp.Provenance.Degraded {
				t.Fatalf("%+v %v", resp, err)
			}
		}
		if down.Calls() != 5 {
			t.Errorf("%d calls to the broken primary, want 5 (then the breaker is open)", down.Calls())
		}
	})
}

func TestFallbackAllFail(t *testing.T) {
	_, err := llm.Fallback(failing("anthropic/a", 1, rebound.ClassOverloaded), failing("openai/b", 1, rebound.ClassTransient)).Generate(context.Background(), req)
	if err == nil {
		t.Fatal("no error")
	}
	var e *rebound.Error
	if !errors.As(err, &e) {
		t.Errorf("%v does not hold the failures", err)
	}
}

func TestFallbackStreamRestarts(t *testing.T) {
	a := &model{name: "anthropic/a", window: 1}
	a.stream = func(ctx context.Context, _ int, _ llm.Request, on func(llm.Delta)) (*llm.Response, error) {
		on(llm.Delta{Text: "half"})
		return nil, classErr(rebound.ClassOverloaded)
	}
	b := &model{name: "openai/b", window: 1}
	b.stream = func(ctx context.Context, _ int, _ llm.Request, on func(llm.Delta)) (*llm.Response, error) {
		on(llm.Delta{Text: "whole"})
		return answer(b, "whole"), nil
	}
	var text string
	resp, err := llm.Fallback(a, b).Stream(context.Background(), req, func(d llm.Delta) {
		if d.Restart {
			text = ""
		}
		text += d.Text
	})
	if err != nil || resp.Text != "whole" || text != "whole" || !resp.Provenance.Degraded {
		t.Fatalf("%+v %v %q", resp, err, text)
	}
}

func TestChainModel(t *testing.T) {
	c := llm.Fallback(answering("anthropic/a", 200_000), answering("openai/b", 1_000_000))
	if c.Name() != "fallback(anthropic/a, openai/b)" || c.ContextWindow() != 1_000_000 || len(c.Models()) != 2 {
		t.Errorf("%s %d", c.Name(), c.ContextWindow())
	}
}

func TestNestedFallbackNamesTheModel(t *testing.T) {
	inner := llm.Fallback(failing("anthropic/a", 1, rebound.ClassOverloaded), answering("anthropic/b", 1))
	resp, err := llm.Fallback(inner, answering("openai/c", 1)).Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Provenance
	if p.Model != "anthropic/b" || !p.Degraded || len(p.Failures) != 1 || p.Failures[0].Model != "anthropic/a" {
		t.Errorf("provenance %+v", p)
	}
}
