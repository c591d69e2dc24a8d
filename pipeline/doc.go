// Package pipeline is Rebound's one attempt pipeline: it runs a call through retry, rate-limit
// pacing, a circuit breaker and an attempt timeout, composed once, in one order, for every
// caller. llm.Resilient runs each model call through it, httpx.Transport each HTTP request, and
// an agent's tool call runs through it the same way; none of them assembles the patterns by
// hand.
//
//	p, err := pipeline.New(pipeline.Config{
//		Name:           "tool/search",
//		Retry:          retry.Policy{MaxAttempts: 3},
//		AttemptTimeout: 30 * time.Second,
//	})
//	if err != nil {
//		return err // a setting out of range, named
//	}
//	hits, err := pipeline.Do(ctx, p, pipeline.Call[[]Hit]{}, func(ctx context.Context) ([]Hit, error) {
//		return search(ctx, query)
//	})
//
// # Composition
//
// Outermost first:
//
//	retry         the policy (Config.Retry) with its budget; stops at once when the breaker
//	              opens and on what a retry cannot mend; retries after a 429 are free of the
//	              budget (the pacer paces them)
//	breaker check refuse at once, without waiting, while the key's breaker is open
//	pacing        wait for the turn under the rate limit (Config.Limiter or Pace); never a
//	              failure
//	breaker       admit the attempt now that it is about to be sent (Breaker.Allow)
//	timeout       the attempt's own deadline (Config.AttemptTimeout, Call.Timeout): class
//	              timeout, a failure for the breaker
//	the call
//
// and on the way out, the response's header and status go to the pacer (Call.Response) and the
// outcome to the breaker (Breaker.Done), which turns the failure that left it open into a
// *breaker.OpenedError, so that retry stops the moment the breaker opens.
//
// The breaker admits an attempt after its pacing wait, not before it: a call that waited while
// the breaker opened is not sent to a dependency known to be down, and a half-open probe takes
// the probe slot only when it goes out, not while it waits in the limiter's queue (where it
// would keep every other call from probing). The check before the wait keeps calls from queueing
// for a turn they could not use.
//
// # Plugging in
//
// Config.Limiter gives the ratelimit.Limiter of each key (one shared by the models of an API
// key, one per host); Config.Pace takes any PaceFunc instead, such as a fleet's shared limiter
// (package fleet/redis). Config.BreakerFor takes any Breaker: Local
// makes one of a *breaker.Breaker, and a fleet-wide breaker (package fleet/redis) implements the
// interface around its local *breaker.Breaker, so that the evidence of every process's calls
// reaches it through Allow and Done. The same Config fields carry over to llm.Config and
// httpx.Config.
package pipeline
