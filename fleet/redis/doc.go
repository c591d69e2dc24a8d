// Package fleetredis shares Rebound's recovery state between the processes of a fleet through
// Redis. Its import path is github.com/rebound-go/rebound/fleet/redis; the package is named
// fleetredis so that it can be imported next to github.com/redis/go-redis/v9 without an alias.
//
// [Budget] is a fleet-wide retry budget: every process's retry.Policy asks it before a retry,
// and the fleet as a whole may add at most Ratio (20 %) retries to the calls it started over a
// sliding window, never fewer than MinRetries. Its state is counters with an expiry in Redis,
// updated by short Lua scripts; no lock is ever held across a call, and when Redis does not
// answer each process falls back to its own in-process retry.Budget.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	budget := fleetredis.NewBudget(rdb, fleetredis.BudgetConfig{Name: "anthropic"})
//	p := retry.Policy{Budget: budget, Name: "anthropic/claude-sonnet-4-6"}
//	text, err := retry.Do(ctx, p, callModel)
package fleetredis
