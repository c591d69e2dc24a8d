// Package breaker is a circuit breaker per dependency: once a provider, model or tool is down,
// calls to it are refused at once with an *OpenError instead of piling up, so the caller degrades
// (a fallback answers) and the dependency is not hammered while it recovers.
//
// A Breaker is closed, open or half-open. Closed, it admits every call and watches the outcomes;
// it opens after Settings.ConsecutiveFailures failures in a row (default 5), or when the share of
// failures (or of slow calls) over a sliding window of the last WindowSize calls or the last
// WindowPeriod of time passes a threshold, once the window holds MinCalls calls. Open, it refuses
// every call until its open time has passed: OpenFor (1 s), lengthened at random by up to Jitter
// (20 %). Half-open, it admits up to MaxProbes (1) probes at a time and closes after
// SuccessesToClose (2) successful ones; a failed probe opens it again for another 1–1.2 s. The
// open time does not grow with the outage (unless MaxOpen is set above OpenFor, which doubles it
// per failed probe), so a recovered dependency is found within one open time plus one call,
// whether it was down for ten seconds or ten minutes.
//
// # Load on a dead dependency
//
// While a dependency stays down, each open breaker sends it one probe per open time: at most
// 1 request per second per process with the defaults (plus the ConsecutiveFailures, 5, that
// opened it), whatever the traffic behind it; every other call is refused without reaching it.
// A fleet of N processes, each with its own breaker, sends it at most N requests per second,
// spread over the second by the jitter rather than in a wave; with package fleet/redis's Guard
// (Guard.Pipeline, for the BreakerFor of llm.Config and httpx.Config) one probe per second goes
// out fleet-wide whatever N, through the fleet's probe slot. That is safe: it is one call per process per second against the tens per second
// an agent fleet sends when healthy, a few per cent of normal load, so a provider shedding
// load by 529s is not kept down by its clients' probes, and each probe is a real call, so the
// first success after the recovery is a served answer. Where even that is too much (a
// dependency billed per call, a fleet of thousands), raise OpenFor or set MaxOpen.
//
// # Across a fleet
//
// A Breaker sees one process's calls. With package fleet/redis, a process's breaker for a
// model becomes fleet-wide: pass the Guards of its Set as llm.Config.BreakerFor (or
// httpx.Config's, pipeline.Config's). Once the breakers of a quorum of processes (2 by default)
// have opened on their own failures, every other process's breaker for the dependency is forced
// open at its next look at the fleet (every 200 ms, and on every recorded outcome), so it does
// not pay failures of its own; half-open, one probe goes out fleet-wide; one process's recovery
// closes the others'. One process alone, whatever its failures, opens only its own breaker.
// With Redis unreachable each breaker is this package's local breaker, probes included (never
// unlimited, never stuck open). docs/fleet.md has the rules and bench/README.md the timings.
//
// What counts is decided by class (rebound.Classify), never by error strings: transient,
// overloaded and timeout are failures; canceled is neutral (it says nothing about the dependency,
// and a neutral probe never closes a half-open breaker); every other class, rate_limited
// included, is a success as far as health goes: the dependency answered.
//
// Use Do, or Allow and the Permit it returns (two calls: DoneContext reports the outcome and
// returns the error to hand on):
//
//	b, _ := breaker.New(breaker.Settings{Name: "anthropic/claude-sonnet-4-6"})
//	text, err := breaker.Do(ctx, b, call) // err is an *OpenError when refused
//
//	p, err := b.Allow()
//	if err != nil {
//		return err // errors.Is(err, rebound.ErrCircuitOpen)
//	}
//	resp, err := call(ctx)
//	return resp, p.DoneContext(ctx, err) // an *OpenedError once this failure opened b
//
// Admitting a call and reporting a success allocates nothing and, unless the breaker measures
// slow calls or uses a time window, reads no clock. Every method that reads the clock has an
// explicit-time twin (AllowAt, DoneAt, StateAt, CheckAt, GetAt) for simulations and tests.
//
// A Set holds one breaker per dependency key, created on demand, bounded in size, idle ones
// forgotten.
//
// # Composition
//
// Package pipeline puts retry, pacing, the breaker and the attempt timeout together in one
// documented order (docs/design.md, "The attempt pipeline"); llm.Resilient and httpx run
// through it. The breaker sits inside retry so that every attempt counts, and retry stops the
// moment the breaker opens: Do and DoneContext return the failure that opened it as an
// *OpenedError, which keeps the failure's class and matches rebound.ErrCircuitOpen (never
// retried), so no backoff is waited through only to end at the open breaker; a later call is
// refused with *OpenError without calling the dependency. The attempt timeout sits inside the
// breaker so that a hung call counts as a failure. The caller's own cancellation counts as
// nothing anywhere: not a failure, not a success, not a reason to fall back. See the package
// example.
//
// State changes are reported to Settings.OnStateChange and as rebound.BreakerChanged events to
// Settings.Hook, with no lock held (unlike sony/gobreaker, whose callback runs under the
// breaker's mutex and deadlocks if it calls the breaker).
package breaker
