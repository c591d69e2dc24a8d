package ratelimit_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rebound-go/rebound/ratelimit"
)

func Example() {
	lim := ratelimit.New(ratelimit.Config{Name: "anthropic/team-a"})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

	// The first call is a probe; its response says 2 of 20 requests are left until 12:00:01.
	p, _ := lim.AllowAt(now, 0)
	h := http.Header{}
	h.Set("anthropic-ratelimit-requests-limit", "20")
	h.Set("anthropic-ratelimit-requests-remaining", "2")
	h.Set("anthropic-ratelimit-requests-reset", "2026-11-28T12:00:01Z")
	p.ObserveAt(now, h, http.StatusOK)

	_, wait := lim.AllowAt(now, 0)
	fmt.Println("first:", wait)
	_, wait = lim.AllowAt(now, 0)
	fmt.Println("second:", wait)
	// The bucket is sure to refill at least 17 requests by 12:00:01 (the reported figures are
	// rounded); the second call waits for one more, above the 5 % reserve.

	// Output:
	// first: 0s
	// second: 58.823529ms
}
