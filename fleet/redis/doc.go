// Package fleetredis shares Rebound's recovery state between the processes of a fleet through
// Redis. Its import path is github.com/rebound-go/rebound/fleet/redis; the package is named
// fleetredis so that it can be imported next to github.com/redis/go-redis/v9 without an alias.
//
// Three things are shared, each as counters or buckets updated by short Lua scripts on Redis's
// own clock (the fleet's clocks need not agree), each expiring by itself. No lock is ever held
// across a call, and when Redis does not answer every process carries on with its own
// in-process state and says so through OnError.
//
// [Budget] is a fleet-wide retry budget: every process's retry.Policy asks it before a retry,
// and the fleet as a whole may add at most Ratio (20 %) retries to the calls it started over a
// sliding window, never fewer than MinRetries. When Redis fails, each process's own
// retry.Budget decides.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	budget := fleetredis.NewBudget(rdb, fleetredis.BudgetConfig{Name: "anthropic"})
//	p := retry.Policy{Budget: budget, Name: "anthropic/claude-sonnet-4-6"}
//	text, err := retry.Do(ctx, p, callModel)
//
// [Limiter] is a fleet-wide rate limiter: processes that share a provider key share one view
// of its limits, a token bucket per limit (requests, tokens) set by the providers' own
// rate-limit headers and refilled at the rate the reports prove (from each report's reset, and
// from pairs of reports 250 ms to 20 s apart: what the bucket gained while the fleet's calls in
// between were taken from it). A call reserves its cost and waits its turn, with jitter, bounded
// by its context, asking for its turn again every Recheck (250 ms) so that a report of more room
// or a faster proved rate brings waiting turns forward; a 429 without headers blocks the fleet's
// calls on the key for its delay. Each process's ratelimit.Limiter for the key is passed as well
// and learns from every response. When Redis fails, each process paces at 90 % of its share of
// the fleet's last known rate (the rate over the processes that used the key within MemberFor,
// 10 s), never unlimited, and OnError is told how ([DegradedError]).
//
//	lim := fleetredis.NewLimiter(rdb, fleetredis.LimiterConfig{})
//	p, err := lim.Wait(ctx, "anthropic/team-a", estimatedTokens)
//	if err != nil {
//		return err // ctx ended, or the turn would come after its deadline
//	}
//	resp, err := send(ctx)
//	p.Observe(ctx, resp.Header, resp.StatusCode)
//
// [Evidence] is what the fleet has seen of each dependency: calls and failures per second over
// a short window. A [Guard] wraps a process's breaker.Breaker: it records every outcome, forces
// the breaker open when the fleet is failing (so a fresh process does not pay its own 5
// failures), and resets it once the fleet is not; a breaker that opened on its own failures
// recovers through its own probes, and tells the fleet when it does. The fleet is failing once
// the own breakers of a quorum of processes (MinProcesses, 2) have opened, so that one process
// with a broken network path cannot open the others'; below it, another process's open breaker
// makes the dependency suspect, and a process's first failure then trips its breaker, without
// counting toward the quorum (see Guard). When Redis fails, the local breaker decides alone.
//
//	ev := fleetredis.NewEvidence(rdb, fleetredis.EvidenceConfig{})
//	guard := ev.Guard(b) // b is the process's *breaker.Breaker for the model
//	text, err := fleetredis.Do(ctx, guard, callModel)
//
// docs/fleet.md says what is shared and what is not, and how each part fails.
package fleetredis
