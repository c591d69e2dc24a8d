package rebound_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/rebound-go/rebound"
)

func ExampleClassify() {
	// A 429 from Anthropic with retry-after: 2, as an adapter reports it.
	h := http.Header{}
	h.Set("retry-after", "2")
	err := fmt.Errorf("messages.create: %w", rebound.HTTPError(http.StatusTooManyRequests, h, time.Now()))

	class, delay := rebound.Classify(err)
	fmt.Println(class, delay, rebound.Retriable(err))
	// Output:
	// rate_limited 2s true
}

func ExampleHTTPError() {
	// x-should-retry: false wins over the status: a 500 that is not to be retried.
	h := http.Header{}
	h.Set("x-should-retry", "false")
	h.Set("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG")
	e := rebound.HTTPError(http.StatusInternalServerError, h, time.Now())
	fmt.Println(e.Class, e.RequestID, rebound.Retriable(e))
	// Output:
	// transient req_018EeWyXxfu5pfWkrYcMdjWG false
}

func ExampleDelayHint() {
	// OpenAI's 429 with its rate-limit headers: the tokens limit is the exhausted one.
	now := time.Date(2025, 8, 21, 12, 40, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("x-ratelimit-remaining-requests", "499")
	h.Set("x-ratelimit-reset-requests", "120ms")
	h.Set("x-ratelimit-remaining-tokens", "0")
	h.Set("x-ratelimit-reset-tokens", "6m0s")
	fmt.Println(rebound.DelayHint(http.StatusTooManyRequests, h, now))
	// Output:
	// 6m0s true
}

func ExampleClassifyContext() {
	// The caller's context ended: whatever the operation returned, the class is canceled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println(rebound.ClassifyContext(ctx, context.DeadlineExceeded))

	// The caller's context lives: a deadline was the attempt's own.
	fmt.Println(rebound.ClassifyContext(context.Background(), context.DeadlineExceeded))
	// Output:
	// canceled 0s
	// timeout 0s
}

func ExamplePermanent() {
	// A tool's error that must not be retried, and one that may be.
	refused := rebound.Permanent(errors.New("payment declined"))
	flaky := rebound.Transient(errors.New("search index busy"))
	fmt.Println(rebound.Retriable(refused), rebound.Retriable(flaky), rebound.Retriable(errors.New("unmarked")))
	// Output:
	// false true false
}

func ExampleGiveUpError() {
	last := rebound.HTTPError(529, http.Header{}, time.Now())
	var err error = &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5, Last: last}
	var gu *rebound.GiveUpError
	fmt.Println(errors.Is(err, rebound.ErrGaveUp), errors.As(err, &gu), errors.Is(err, last))
	fmt.Println(err)
	// Output:
	// true true true
	// gave up after 5 attempts (exhausted): overloaded: status 529
}

func ExampleEvent_MarshalJSON() {
	e := rebound.Event{
		Time: time.Date(2025, 8, 21, 12, 40, 0, 0, time.UTC), Kind: rebound.RetryScheduled,
		RunID: "report-001", Step: "outline", Attempt: 1, Class: rebound.ClassRateLimited,
		Delay: 2 * time.Second, Model: "anthropic/claude-sonnet-4-6",
		Err: rebound.HTTPError(429, http.Header{}, time.Time{}),
	}
	json.NewEncoder(os.Stdout).Encode(e)
	// Output:
	// {"time":"2025-08-21T12:40:00Z","event":"retry_scheduled","run_id":"report-001","step":"outline","attempt":1,"class":"rate_limited","delay_ms":2000,"model":"anthropic/claude-sonnet-4-6","error":"rate_limited: status 429"}
}
