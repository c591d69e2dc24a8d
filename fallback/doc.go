// Package fallback asks an ordered chain of alternatives (another model, another provider, a
// cache, a static answer) until one answers, and marks the answer: which source gave it, whether
// it is degraded, and what failed before. A degraded answer is never silent: it is in the Result
// and, as a rebound.FallbackUsed event, in the chain's Hook.
//
//	c := fallback.Chain[string]{
//		Alternatives: []fallback.Alternative[string]{
//			{Name: "claude-sonnet", Op: sonnet},
//			{Name: "claude-haiku", Op: haiku, Degraded: true},
//			{Name: "static", Op: sorry, Degraded: true},
//		},
//		Hook: hook,
//	}
//	res, err := c.Do(ctx) // res.Source, res.Degraded, res.Failures
//
// Each alternative after the first says, with When, which failures move on to it (by default
// every failure but the caller's cancellation and a bad request). A breaker's refusal
// (rebound.ErrCircuitOpen) moves on at once. When every alternative fails, the error is an
// *Error listing each failure; errors.As finds each *Failure and what is inside it.
//
// The chain is the outermost layer of a composition (see package breaker's "Composition").
package fallback
