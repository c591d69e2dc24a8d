package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/retry"
)

// A tool call through the pipeline: retried once after a transient failure, under its own
// breaker ("tool/search") and a 30 s attempt timeout.
func Example() {
	p, err := pipeline.New(pipeline.Config{
		Name:           "tool/search",
		Retry:          retry.Policy{MaxAttempts: 3, Base: time.Millisecond},
		AttemptTimeout: 30 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	attempts := 0
	hits, err := pipeline.Do(context.Background(), p, pipeline.Call[[]string]{}, func(ctx context.Context) ([]string, error) {
		attempts++
		if attempts == 1 {
			return nil, &rebound.Error{Class: rebound.ClassTransient, Message: "connection reset"}
		}
		return []string{"rebound", "retry"}, nil
	})
	fmt.Println(hits, err, attempts)

	// A call the breaker refuses is not retried.
	p.Breakers().Get("tool/search").ForceOpen()
	_, err = pipeline.Do(context.Background(), p, pipeline.Call[[]string]{}, func(ctx context.Context) ([]string, error) {
		return nil, nil
	})
	fmt.Println(errors.Is(err, rebound.ErrCircuitOpen))
	// Output:
	// [rebound retry] <nil> 2
	// true
}

// Bad settings are an error, never a panic.
func ExampleNew_badSettings() {
	_, err := pipeline.New(pipeline.Config{Retry: retry.Policy{Factor: 0.5}})
	fmt.Println(err)
	// Output:
	// pipeline: retry policy: Factor 0.5 is not 0 (the default) or at least 1
}
