package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/retry"
)

func ExampleDo() {
	// An operation that fails twice with a 503, then answers.
	calls := 0
	op := func(ctx context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", rebound.HTTPError(http.StatusServiceUnavailable, http.Header{}, time.Now())
		}
		return "the answer", nil
	}
	p := retry.Policy{
		Base: time.Millisecond, // short for the example; the default is 1 s
		Hook: func(_ context.Context, e rebound.Event) {
			if e.Kind == rebound.AttemptFailed {
				fmt.Printf("attempt %d failed: %s\n", e.Attempt, e.Class)
			}
		},
	}
	answer, err := retry.Do(context.Background(), p, op)
	fmt.Println(answer, err)
	// Output:
	// attempt 1 failed: transient
	// attempt 2 failed: transient
	// the answer <nil>
}

func ExampleDo_notRetriable() {
	// A real OpenAI quota error: a 429 that no wait will cure (docs/provider-errors.md §3.5).
	quota := rebound.HTTPError(http.StatusTooManyRequests, http.Header{}, time.Now())
	quota.Class, quota.Type, quota.Code = rebound.ClassQuota, "insufficient_quota", "insufficient_quota"
	quota.Message = "You exceeded your current quota, please check your plan and billing details."

	_, err := retry.Do(context.Background(), retry.Policy{}, func(context.Context) (string, error) {
		return "", quota
	})
	var gu *rebound.GiveUpError
	if errors.As(err, &gu) {
		fmt.Println(gu.Reason, gu.Attempts)
	}
	// Output:
	// not_retriable 1
}

func ExamplePolicy_customClassifier() {
	// A tool whose own error type means "try again later".
	type busyError struct{ error }
	p := retry.Policy{
		Base: time.Millisecond,
		Classify: func(err error) (rebound.Class, time.Duration) {
			if errors.As(err, new(busyError)) {
				return rebound.ClassOverloaded, 0
			}
			return rebound.Classify(err)
		},
	}
	calls := 0
	n, err := retry.Do(context.Background(), p, func(context.Context) (int, error) {
		calls++
		if calls == 1 {
			return 0, busyError{errors.New("search index busy")}
		}
		return 42, nil
	})
	fmt.Println(n, err, calls)
	// Output:
	// 42 <nil> 2
}

func ExampleBudget() {
	// One budget shared by every policy of the process: at most 20 % of the calls in flight
	// may be retrying, never fewer than 3.
	budget := &retry.Budget{}
	p := retry.Policy{Budget: budget, Base: time.Millisecond}

	ctx := context.Background()
	for range 10 {
		budget.Begin(ctx) // ten other calls in flight, each already retrying
		budget.AcquireRetry(ctx)
	}
	_, err := retry.Do(ctx, p, func(context.Context) (string, error) {
		return "", rebound.Transient(errors.New("connection reset"))
	})
	var gu *rebound.GiveUpError
	errors.As(err, &gu)
	fmt.Println(gu.Reason, budget.Limit(11))
	// Output:
	// budget_exhausted 3
}

func ExampleBackoff_Delay() {
	var b retry.Backoff // the defaults: base 1 s, factor 2, cap 60 s
	for attempt := range 7 {
		fmt.Println(attempt, b.Delay(retry.JitterNone, attempt, 0, 0), b.Delay(retry.JitterEqual, attempt, 0, 0.5))
	}
	// Output:
	// 0 1s 750ms
	// 1 2s 1.5s
	// 2 4s 3s
	// 3 8s 6s
	// 4 16s 12s
	// 5 32s 24s
	// 6 1m0s 45s
}
