package fleetredis_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	fleetredis "github.com/rebound-go/rebound/fleet/redis"
)

func ExampleNewLimiter() {
	// Every process builds the same limiter (same Name) on its own client. Here Redis is not
	// there: the call is paced by the process's own limiter, and OnError says why.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	lim := fleetredis.NewLimiter(rdb, fleetredis.LimiterConfig{
		Name: "rebound:ratelimit",
		OnError: func(err error) {
			what, _, _ := strings.Cut(err.Error(), ": ")
			fmt.Println("paced locally:", what)
		},
	})
	ctx := context.Background()
	p, err := lim.Wait(ctx, "anthropic/team-a", 1200) // one request, about 1200 tokens
	if err != nil {
		return // ctx ended, or the turn would come after its deadline
	}
	// ... send the request; then report the response, whose rate-limit headers set the fleet's
	// buckets (and the local limiter's).
	h := http.Header{}
	h.Set("anthropic-ratelimit-requests-limit", "50")
	h.Set("anthropic-ratelimit-requests-remaining", "49")
	p.Observe(ctx, h, http.StatusOK)
	fmt.Println("admitted by the fleet:", p.Fleet())
	// Output:
	// paced locally: reserve in rate limiter {rebound:ratelimit} for "anthropic/team-a"
	// admitted by the fleet: false
}

func ExampleEvidence_Failing() {
	// 50 % of at least 10 calls, failures from at least 2 processes
	ev := fleetredis.NewEvidence(nil, fleetredis.EvidenceConfig{})
	fmt.Println(ev.Failing(fleetredis.Counts{Calls: 12, Failures: 9, Processes: 2}))
	fmt.Println(ev.Failing(fleetredis.Counts{Calls: 12, Failures: 9, Processes: 1})) // one process's view only
	fmt.Println(ev.Failing(fleetredis.Counts{Calls: 12, Failures: 3, Processes: 3}))
	fmt.Println(ev.Failing(fleetredis.Counts{Calls: 4, Failures: 4, Processes: 2})) // too few calls to judge
	// Output:
	// true
	// false
	// false
	// false
}

func ExampleEvidence_Guard() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // Redis down
	defer rdb.Close()
	ev := fleetredis.NewEvidence(rdb, fleetredis.EvidenceConfig{Name: "rebound:breaker"})
	b, _ := breaker.New(breaker.Settings{Name: "anthropic/claude-sonnet-4-6"})
	guard := ev.Guard(b)

	// With Redis up, a process whose fleet has seen the model fail opens at once. Without
	// Redis, the local breaker decides alone: it opens after its own 5 failures.
	down := func(context.Context) (string, error) { return "", rebound.HTTPError(503, nil, time.Time{}) }
	var err error
	for range 6 {
		_, err = fleetredis.Do(context.Background(), guard, down)
	}
	var open *breaker.OpenError
	fmt.Println(errors.As(err, &open), open.Name, b.State())
	// Output:
	// true anthropic/claude-sonnet-4-6 open
}

func ExampleEvidence_Guards() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	set, _ := breaker.NewSet(breaker.SetConfig{})
	guards := fleetredis.NewEvidence(rdb, fleetredis.EvidenceConfig{}).Guards(set)

	g := guards.Get("tool/search") // the set's breaker for tool/search, with the fleet's evidence
	fmt.Println(g.Breaker() == set.Get("tool/search"), g == guards.Get("tool/search"))
	// Output:
	// true true
}

func ExampleLimiter_Pace() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	lim := fleetredis.NewLimiter(rdb, fleetredis.LimiterConfig{OnError: func(error) {}})

	// llm.Config{Pace: lim.Pace("anthropic/team-a")} paces a Resilient model under the fleet's
	// limit; httpx.Config{Pace: lim.PaceRequest} does the same for an HTTP client's hosts.
	pace := lim.Pace("anthropic/team-a")
	report, err := pace(context.Background(), "anthropic/claude-sonnet-4-6", 1200)
	if err != nil {
		return
	}
	report(http.Header{}, http.StatusOK)
	fmt.Println("paced")
	// Output: paced
}
