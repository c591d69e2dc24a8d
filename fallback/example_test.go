package fallback_test

import (
	"context"
	"fmt"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fallback"
)

func Example() {
	c := fallback.Chain[string]{
		Alternatives: []fallback.Alternative[string]{
			{Name: "claude-sonnet", Op: func(context.Context) (string, error) {
				return "", &rebound.Error{Class: rebound.ClassOverloaded, Status: 529}
			}},
			{Name: "claude-haiku", Degraded: true, Op: func(context.Context) (string, error) {
				return "a shorter answer", nil
			}},
		},
		Hook: func(_ context.Context, e rebound.Event) {
			fmt.Printf("%s: %s -> %s (%s)\n", e.Kind, e.From, e.To, e.Class)
		},
	}
	res, err := c.Do(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q from %s, degraded %v, after %d failure\n", res.Value, res.Source, res.Degraded, len(res.Failures))
	// Output:
	// fallback_used: claude-sonnet -> claude-haiku (overloaded)
	// "a shorter answer" from claude-haiku, degraded true, after 1 failure
}
