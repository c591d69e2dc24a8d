// Package ratelimit paces the calls that share a provider key so that they stay under the
// provider's rate limit instead of discovering it by 429s.
//
// A Limiter learns the limit from the provider's own words: the anthropic-ratelimit-* and
// x-ratelimit-* headers of every response (limit, remaining, reset, for requests and for
// tokens) and its 429s (retry-after-ms, retry-after). Before each call, Wait admits the call
// when the provider's bucket, as last reported, refilled since at the rate the reports prove
// (from each report's reset, and from pairs of reports: what the bucket gained while the calls
// in between were taken from it), minus the calls that report did not count, still holds the
// call's cost (one request and its estimated tokens); otherwise the call waits its turn, bounded
// by its context. A request limit bounds the rate, not the calls in flight. After the call,
// Permit.Observe reports the response.
//
//	lim := ratelimit.New(ratelimit.Config{Name: "anthropic/team-a"})
//	p, err := lim.Wait(ctx, estimatedTokens)
//	if err != nil {
//		return err // ctx ended, or the turn would come after its deadline
//	}
//	resp, err := send(ctx)
//	if err != nil {
//		p.Observe(nil, 0) // no response: the call no longer counts as in flight
//		return err
//	}
//	p.Observe(resp.Header, resp.StatusCode)
//
// Before the first response, one call at a time goes out (a probe), so that a pool of
// goroutines released together learns the limit from one answer rather than from a wave of
// 429s. A provider that sends no rate-limit headers is not paced; its 429s still block every
// call for the delay they ask. One that stops sending them (a proxy put in front of it) is no
// longer paced from its last report once that report's reset has passed, until a response
// reports again.
//
// Every method that reads the clock has an explicit-time twin (AllowAt, ObserveAt). The package
// imports only the standard library and the module's root.
package ratelimit
