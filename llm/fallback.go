package llm

import (
	"context"
	"fmt"
	"strings"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fallback"
)

// ContentPolicyAction says what a Fallback does when a model refuses or its content filter
// withholds the answer.
type ContentPolicyAction uint8

const (
	// ContentPolicyFallBack asks the next model (the default): another model's policy may allow
	// the request.
	ContentPolicyFallBack ContentPolicyAction = iota
	// ContentPolicyEscalate stops and returns the content_policy failure, for the caller to
	// escalate to a person.
	ContentPolicyEscalate
)

// FallbackConfig configures FallbackWith. Its zero value gives Fallback's rules.
type FallbackConfig struct {
	// ContentPolicy says whether a content_policy failure moves on to the next model
	// (ContentPolicyFallBack, the default) or stops (ContentPolicyEscalate).
	ContentPolicy ContentPolicyAction
	// SameProviderOnAccount lets quota and auth failures move on to another model of the same
	// provider. Default false: a spent quota or a bad key on one provider is the same for all
	// its models, so they are skipped and the next model of another provider is asked.
	SameProviderOnAccount bool
	// Hook receives a rebound.FallbackUsed event (From, To: model names) each time the chain
	// moves on. Nil: none (a rebound.Scope's hook in the context still receives them).
	Hook rebound.Hook
}

// Chain is a Model that asks an ordered list of models until one answers. Build it with
// Fallback or FallbackWith.
type Chain struct {
	models []Model
	cfg    FallbackConfig
	chain  fallback.Chain[*Response]
}

var _ Model = (*Chain)(nil)

// Fallback returns a Model that asks models in order, the first the primary, under these rules
// (docs/provider-errors.md §5.1):
//
//   - overloaded, transient, timeout, malformed, rate_limited, unknown failures and exhausted
//     retries move on to the next model;
//   - a breaker's refusal (rebound.ErrCircuitOpen) moves on at once;
//   - quota and auth move on at once to the next model of another provider (the provider is
//     the part of Name before "/");
//   - context_overflow moves on to the next model whose ContextWindow is larger than the
//     failed one's;
//   - content_policy moves on (see FallbackConfig.ContentPolicy to escalate instead);
//   - invalid (a bug in the request) and the caller's cancellation never move on.
//
// Wrap each model in Resilient first, so that each is retried and guarded on its own, and quota
// or auth failures and open breakers reach the chain at once. The answer's Provenance names the
// model that answered, Degraded when it is not the first, and the failures before it.
func Fallback(models ...Model) *Chain { return FallbackWith(FallbackConfig{}, models...) }

// FallbackWith is Fallback with a configuration.
func FallbackWith(c FallbackConfig, models ...Model) *Chain {
	ch := &Chain{models: models, cfg: c}
	ch.chain.Hook = c.Hook
	return ch
}

// Name returns "fallback(" followed by the models' names joined by ", " and ")".
func (c *Chain) Name() string {
	names := make([]string, len(c.models))
	for i, m := range c.models {
		names[i] = m.Name()
	}
	return "fallback(" + strings.Join(names, ", ") + ")"
}

// ContextWindow returns the largest ContextWindow of the models.
func (c *Chain) ContextWindow() int {
	w := 0
	for _, m := range c.models {
		w = max(w, m.ContextWindow())
	}
	return w
}

// Models returns the chain's models, the primary first.
func (c *Chain) Models() []Model { return append([]Model(nil), c.models...) }

// Generate asks each model's Generate in turn, under the rules of Fallback.
func (c *Chain) Generate(ctx context.Context, req Request) (*Response, error) {
	return c.do(ctx, func(ctx context.Context, m Model) (*Response, error) { return m.Generate(ctx, req) })
}

// Stream asks each model's Stream in turn, under the rules of Fallback. When a model that
// delivered deltas fails and the next one starts, onDelta receives a Delta with Restart set
// first.
func (c *Chain) Stream(ctx context.Context, req Request, onDelta func(Delta)) (*Response, error) {
	delivered, restart := false, false
	forward := func(d Delta) {
		if onDelta == nil {
			return
		}
		if restart && !d.Restart {
			restart = false
			onDelta(Delta{Restart: true})
		}
		if d.Text != "" {
			delivered = true
		}
		onDelta(d)
	}
	return c.do(ctx, func(ctx context.Context, m Model) (*Response, error) {
		restart = delivered
		return m.Stream(ctx, req, forward)
	})
}

func (c *Chain) do(ctx context.Context, call func(context.Context, Model) (*Response, error)) (*Response, error) {
	alts := make([]fallback.Alternative[*Response], len(c.models))
	for i, m := range c.models {
		alts[i] = fallback.Alternative[*Response]{
			Name:     m.Name(),
			Op:       func(ctx context.Context) (*Response, error) { return call(ctx, m) },
			When:     c.when(m),
			Degraded: i > 0,
		}
	}
	chain := fallback.Chain[*Response]{Alternatives: alts, Hook: c.chain.Hook}
	res, err := chain.Do(ctx)
	if err != nil {
		return nil, err
	}
	if res.Value == nil {
		return nil, fmt.Errorf("llm: model %s returned neither a response nor an error", res.Source)
	}
	resp := *res.Value
	if resp.Provenance.Model == "" { // a nested chain has named the model already
		resp.Provenance.Model = res.Source
	}
	resp.Provenance.Degraded = resp.Provenance.Degraded || res.Degraded
	for _, f := range res.Failures {
		resp.Provenance.Failures = append(resp.Provenance.Failures, Failure{Model: f.Source, Class: f.Class, Err: f.Err})
	}
	return &resp, nil
}

// when returns the rule by which the last failure moves on to next.
func (c *Chain) when(next Model) func(fallback.Failure) bool {
	return func(f fallback.Failure) bool {
		failed := c.model(f.Source)
		switch f.Class {
		case rebound.ClassCanceled, rebound.ClassInvalid:
			return false
		case rebound.ClassContextOverflow:
			return failed == nil || next.ContextWindow() > failed.ContextWindow()
		case rebound.ClassContentPolicy:
			return c.cfg.ContentPolicy == ContentPolicyFallBack
		case rebound.ClassQuota, rebound.ClassAuth:
			return c.cfg.SameProviderOnAccount || providerOf(next.Name()) != providerOf(f.Source)
		}
		return true
	}
}

func (c *Chain) model(name string) Model {
	for _, m := range c.models {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

// providerOf returns the part of a model's name before "/".
func providerOf(name string) string {
	p, _, _ := strings.Cut(name, "/")
	return p
}
