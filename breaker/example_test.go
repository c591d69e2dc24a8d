package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/fallback"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/timeout"
)

func ExampleBreaker_Allow() {
	b, _ := breaker.New(breaker.Settings{Name: "tool/search", ConsecutiveFailures: 2})
	for i := range 3 {
		p, err := b.Allow()
		if err != nil {
			var open *breaker.OpenError
			errors.As(err, &open)
			fmt.Println("refused by", open.Name, errors.Is(err, rebound.ErrCircuitOpen))
			continue
		}
		p.Done(&rebound.Error{Class: rebound.ClassTransient, Status: 503})
		fmt.Println("call", i+1, "failed; breaker", b.State())
	}
	// Output:
	// call 1 failed; breaker closed
	// call 2 failed; breaker open
	// refused by tool/search true
}

// Example shows the composition order: the fallback chain outside, then retry, then the
// breaker, then the attempt timeout around the call itself.
func Example() {
	flaky := func(ctx context.Context) (string, error) {
		return "", &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Provider: "anthropic"}
	}
	log := func(_ context.Context, e rebound.Event) {
		switch e.Kind {
		case rebound.BreakerChanged:
			fmt.Printf("breaker %s: %s -> %s\n", e.Model, e.From, e.To)
		case rebound.GaveUp:
			fmt.Printf("retry gave up after %d attempts: %s\n", e.Attempt, e.Reason)
		case rebound.FallbackUsed:
			fmt.Printf("fell back from %s to %s\n", e.From, e.To)
		}
	}
	breakers, _ := breaker.NewSet(breaker.SetConfig{
		Settings: breaker.Settings{ConsecutiveFailures: 3, Hook: log},
	})
	policy := retry.Policy{
		MaxAttempts: 5, Hook: log,
		Rand: func() float64 { return 0 }, // no waiting in an example
	}
	sonnet := func(ctx context.Context) (string, error) {
		return retry.Do(ctx, policy, func(ctx context.Context) (string, error) {
			return breaker.Do(ctx, breakers.Get("anthropic/claude-sonnet"), func(ctx context.Context) (string, error) {
				return timeout.Do(ctx, 30*time.Second, flaky)
			})
		})
	}
	chain := fallback.Chain[string]{
		Alternatives: []fallback.Alternative[string]{
			{Name: "anthropic/claude-sonnet", Op: sonnet},
			{Name: "static", Degraded: true, Op: func(context.Context) (string, error) {
				return "The assistant is busy; please try again shortly.", nil
			}},
		},
		Hook: log,
	}
	for range 2 {
		res, err := chain.Do(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%q from %s (degraded %v)\n", res.Value, res.Source, res.Degraded)
	}
	// Output:
	// breaker anthropic/claude-sonnet: closed -> open
	// retry gave up after 3 attempts: breaker_open
	// fell back from anthropic/claude-sonnet to static
	// "The assistant is busy; please try again shortly." from static (degraded true)
	// retry gave up after 1 attempts: breaker_open
	// fell back from anthropic/claude-sonnet to static
	// "The assistant is busy; please try again shortly." from static (degraded true)
}

func ExampleSet() {
	breakers, _ := breaker.NewSet(breaker.SetConfig{
		Settings: breaker.Settings{ConsecutiveFailures: 1},
		MaxSize:  100,
	})
	search := breakers.Get("tool/search")
	p, _ := search.Allow()
	p.Done(&rebound.Error{Class: rebound.ClassTransient, Status: 502})

	fmt.Println(breakers.Get("tool/search").State(), breakers.Get("anthropic/claude-x").State(), breakers.Len())
	// Output:
	// open closed 2
}
