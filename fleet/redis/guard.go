package fleetredis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/pipeline"
)

// Guard puts a process's breaker for one dependency in touch with the fleet's evidence,
// through the breaker's public API only:
//
//   - every outcome of a call it admits goes to the local breaker (as breaker.Do would report it)
//     and to the fleet's window in Redis;
//   - when the fleet is failing (Evidence.Failing) and the local breaker is closed, the Guard
//     forces it open (ForceOpen), so a fresh process does not pay its own failures; calls are
//     then refused with a *breaker.OpenError whose Until is zero;
//   - once the fleet is no longer failing, it resets the breaker it forced (Reset). A breaker
//     that opened on its own failures probes on its own schedule, one probe at a time
//     fleet-wide (the fleet's probe slot, see Allow); when its probes close it, the Guard tells
//     the fleet (Evidence.Recovered), so that stale failures stop holding the others open and
//     the breakers that opened on their own before the recovery are reset without probing;
//   - below the quorum, another process's breaker that opened on its own failures
//     (Counts.PeerOpened) makes the dependency suspect: the next failure of this process trips
//     its breaker (breaker.Breaker.Trip) instead of waiting for its threshold, unless an answer
//     of its own to a call admitted after it learned of that process's latest vote
//     (Counts.PeerVote) cleared the suspicion (the calls in flight then are counted, and the
//     first outcomes after it taken for theirs). A breaker tripped on suspicion is open as if on its own failures
//     (it probes, and a recovery elsewhere resets it), but it casts no vote: one process with a
//     broken network path trips at most the breakers whose own next call fails too, and never
//     makes the fleet failing for the processes whose calls succeed.
//
// The fleet's view is read at most once per CheckEvery (and refreshed by every outcome
// recorded); one caller at a time reads it, the others act on the view they have. When Redis
// fails, OnError is told, the breaker it forced is reset, and the local breaker decides alone
// until Redis answers again (asked again after CheckEvery).
//
// Use one Guard per breaker, shared by the goroutines that call the dependency (see
// Evidence.Guards for a breaker.Set). Do not ForceOpen or Reset the breaker behind the Guard's
// back while it holds the breaker forced.
type Guard struct {
	ev  *Evidence
	b   *breaker.Breaker
	key string

	forced  atomic.Bool // the Guard forced the breaker open
	suspect atomic.Bool // the breaker opened on its own: look for its recovery
	// tripped: the Guard tripped the breaker on suspicion; until a probe goes out, failures of
	// calls admitted before cast no vote.
	tripped atomic.Bool
	// seenRecovery is the fleet's last recovery (Counts.Recovered) when the breaker opened on
	// its own; -1: not known yet.
	seenRecovery atomic.Int64
	// cleared is the latest peer vote (Counts.PeerVote) that a success of this process came
	// after, or that tripped its breaker: only a newer vote makes the dependency suspect again.
	cleared atomic.Int64
	// known is the latest peer vote a view showed; old counts the outcomes still to come from
	// the calls in flight when it was learnt (admitted before it: their successes clear
	// nothing); inflight counts the calls admitted and not yet reported.
	known, old, inflight atomic.Int64
	view                 atomic.Pointer[view]
	refreshing           atomic.Bool
	skipUntil            atomic.Int64 // unix ns: Redis failed, leave it alone until then
}

type view struct {
	counts Counts
	at     int64 // unix ns
}

// Guard returns a Guard for b; its dependency key is b.Name().
func (e *Evidence) Guard(b *breaker.Breaker) *Guard {
	return &Guard{ev: e, b: b, key: b.Name()}
}

// Breaker returns the guarded breaker.
func (g *Guard) Breaker() *breaker.Breaker { return g.b }

// Forced reports whether the Guard holds the breaker forced open on the fleet's evidence.
func (g *Guard) Forced() bool { return g.forced.Load() }

// GuardPermit is a call admitted by a Guard. Report its outcome exactly once with Done.
type GuardPermit struct {
	g *Guard
	p breaker.Permit
}

// Allow admits a call, or refuses it with the breaker's *breaker.OpenError (which matches
// rebound.ErrCircuitOpen). It first brings the breaker in line with the fleet's evidence,
// reading it from Redis when the view is older than CheckEvery.
//
// A half-open breaker's probe goes out only if this process takes the fleet's probe slot for the
// dependency (a key in Redis that expires after ProbeEvery, never waited on): one probe per
// ProbeEvery fleet-wide, however many processes are half-open; the others are refused with a
// half-open *breaker.OpenError. When Redis does not answer, the local breaker probes alone.
func (g *Guard) Allow(ctx context.Context) (GuardPermit, error) {
	g.refresh(ctx)
	g.apply()
	if g.b.State() == breaker.HalfOpen && !g.redisDown() {
		took, err := g.ev.takeProbe(ctx, g.key)
		if err != nil && ctx.Err() == nil {
			g.store(Counts{}, err)
		} else if err == nil && !took {
			return GuardPermit{}, &breaker.OpenError{Name: g.b.Name(), State: breaker.HalfOpen, Until: time.Now().Add(g.ev.probeEvery)}
		}
	}
	p, err := g.b.Allow()
	if err != nil {
		if !g.forced.Load() {
			g.markSuspect()
		}
		return GuardPermit{}, err
	}
	if g.tripped.Load() && g.b.State() != breaker.Closed {
		g.tripped.Store(false) // a probe: its failure is this process's own evidence
	}
	g.inflight.Add(1)
	return GuardPermit{g: g, p: p}, nil
}

// markSuspect notes that the breaker opened on its own, and which fleet recovery it has seen, so
// that a later recovery of another process releases it.
func (g *Guard) markSuspect() {
	if g.suspect.CompareAndSwap(false, true) {
		seen := int64(-1) // unknown until the next view
		if v := g.view.Load(); v != nil {
			seen = v.counts.Recovered
		}
		g.seenRecovery.Store(seen)
	}
}

// Done reports the outcome of the call, returned under ctx, to the local breaker
// (breaker.Permit.DoneContext) and, unless neutral, to the fleet.
// It returns err, or, when the local breaker is open after it (on its own failures, tripped on
// suspicion, or forced on the counts the failure's record returned), a *breaker.OpenedError
// that keeps err (see breaker.Permit.DoneContext).
func (p GuardPermit) Done(ctx context.Context, err error) error {
	g := p.g
	if g == nil {
		return err
	}
	g.inflight.Add(-1)
	fresh := !g.takeOld() // admitted after the latest peer vote was learnt
	out := p.p.DoneContext(ctx, err)
	o := g.ev.Outcome(ctx, err)
	if o == Neutral || g.redisDown() {
		return out
	}
	var c Counts
	var rerr error
	opened := false
	switch {
	case o == Failure:
		// Its own failures opened it (not the Guard: forced, or tripped on suspicion).
		opened = !g.forced.Load() && !g.tripped.Load() && g.b.State() != breaker.Closed
		if opened {
			g.markSuspect()
		}
		c, rerr = g.ev.record(context.WithoutCancel(ctx), g.key, true, opened)
	case g.suspect.Load() && !g.forced.Load() && g.b.State() == breaker.Closed && g.suspect.CompareAndSwap(true, false):
		g.tripped.Store(false)
		c, rerr = g.ev.Recovered(context.WithoutCancel(ctx), g.key) // the breaker's probes closed it
	default:
		if v := g.view.Load(); v != nil && fresh {
			g.clear(v.counts.PeerVote) // an answer to a call admitted after the vote was known
		}
		c, rerr = g.ev.Record(context.WithoutCancel(ctx), g.key, false)
	}
	g.store(c, rerr)
	if o == Failure && !opened && rerr == nil {
		return g.onSuspicion(err, out, c)
	}
	return out
}

// takeOld counts one outcome of a call admitted before the latest peer vote was learnt, if any
// remain.
func (g *Guard) takeOld() bool {
	for {
		n := g.old.Load()
		if n <= 0 {
			return false
		}
		if g.old.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// learn notes the peer vote of counts c: when it is newer than the last known, the calls in
// flight now were admitted before it.
func (g *Guard) learn(c Counts) {
	for {
		k := g.known.Load()
		if c.PeerVote <= k {
			return
		}
		if g.known.CompareAndSwap(k, c.PeerVote) {
			g.old.Store(max(g.inflight.Load(), 0))
			return
		}
	}
}

// clear notes that this process has an answer of its own after the peer vote of second vote.
func (g *Guard) clear(vote int64) {
	for {
		old := g.cleared.Load()
		if vote <= old || g.cleared.CompareAndSwap(old, vote) {
			return
		}
	}
}

// onSuspicion trips the breaker after a failure err (out as the local breaker returned it)
// when c holds a peer's vote newer than the last this process cleared, and returns err as the
// *breaker.OpenedError of the opening, so that a retry stops at once; when the fleet's evidence
// forced the breaker open on the failure's counts, likewise (with a zero Until).
func (g *Guard) onSuspicion(err, out error, c Counts) error {
	var oe *breaker.OpenedError
	if errors.As(out, &oe) {
		return out
	}
	if g.forced.Load() {
		return &breaker.OpenedError{Err: err, Name: g.b.Name()}
	}
	if !g.ev.peers || c.PeerOpened == 0 || c.PeerVote <= g.cleared.Load() {
		return out
	}
	until, ok := g.b.Trip()
	if !ok {
		return out
	}
	g.clear(c.PeerVote)
	g.tripped.Store(true)
	g.markSuspect()
	return &breaker.OpenedError{Err: err, Name: g.b.Name(), Until: until}
}

// Do runs op if g admits it and reports its outcome, as breaker.Do does for a breaker. A
// refusal is the breaker's *breaker.OpenError and op does not run; a failure after which the
// breaker is open is returned as a *breaker.OpenedError (see GuardPermit.Done). A panic in op
// counts as a failure and is re-panicked.
func Do[T any](ctx context.Context, g *Guard, op rebound.Op[T]) (T, error) {
	p, err := g.Allow(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	done := false
	defer func() {
		if !done {
			p.Done(ctx, errPanicked)
		}
	}()
	v, err := op(ctx)
	done = true
	return v, p.Done(ctx, err)
}

var errPanicked = rebound.Transient(errors.New("call panicked"))

// refresh reads the fleet's counts if the view is older than CheckEvery and no other caller is
// reading them.
func (g *Guard) refresh(ctx context.Context) {
	now := time.Now().UnixNano()
	if v := g.view.Load(); v != nil && now-v.at < int64(g.ev.checkEvery) {
		return
	}
	if g.redisDown() || !g.refreshing.CompareAndSwap(false, true) {
		return
	}
	defer g.refreshing.Store(false)
	c, err := g.ev.Counts(ctx, g.key)
	if err != nil && ctx.Err() != nil {
		return // the caller's context ended: that says nothing about Redis
	}
	g.store(c, err)
}

func (g *Guard) redisDown() bool { return time.Now().UnixNano() < g.skipUntil.Load() }

// store keeps the counts read from Redis as the view, or, on err, drops the view and leaves
// Redis alone for CheckEvery.
func (g *Guard) store(c Counts, err error) {
	now := time.Now()
	if err != nil {
		g.skipUntil.Store(now.Add(g.ev.checkEvery).UnixNano())
		g.view.Store(nil)
		g.apply()
		if g.ev.onError != nil {
			g.ev.onError(err)
		}
		return
	}
	g.view.Store(&view{counts: c, at: now.UnixNano()})
	g.learn(c)
	g.seenRecovery.CompareAndSwap(-1, c.Recovered)
	g.apply() // act on fresh counts at once, not at the next call
}

// apply forces the breaker open while the fleet is failing, and resets the breaker it forced
// once the fleet is not (or its evidence is out of reach).
func (g *Guard) apply() {
	v := g.view.Load()
	if v != nil && g.ev.Failing(v.counts) {
		if !g.forced.Load() && g.b.State() == breaker.Closed && g.forced.CompareAndSwap(false, true) {
			g.b.ForceOpen()
		}
		return
	}
	if g.forced.Load() && g.forced.CompareAndSwap(true, false) {
		g.suspect.Store(false)
		g.tripped.Store(false)
		g.b.Reset()
		return
	}
	// Another process's probes closed its breaker after ours opened: the dependency is back, so
	// ours closes too instead of waiting for a probe of its own.
	if v != nil && g.suspect.Load() && v.counts.Recovered > 0 {
		if seen := g.seenRecovery.Load(); seen >= 0 && v.counts.Recovered > seen && g.suspect.CompareAndSwap(true, false) {
			g.tripped.Store(false)
			if g.b.State() != breaker.Closed {
				g.b.Reset()
			}
		}
	}
}

// Pipeline returns g as a pipeline.Breaker, for pipeline.Config.BreakerFor (and the BreakerFor
// of llm.Config and httpx.Config): Check and Allow bring the breaker in line with the fleet's
// evidence first, Allow takes the fleet's probe slot for a probe, and Done reports to both.
func (g *Guard) Pipeline() pipeline.Breaker { return (*pipelineGuard)(g) }

type pipelineGuard Guard

func (pg *pipelineGuard) Check(ctx context.Context) error {
	g := (*Guard)(pg)
	g.refresh(ctx)
	g.apply()
	return g.b.Check()
}

func (pg *pipelineGuard) Allow(ctx context.Context) (breaker.Permit, error) {
	p, err := (*Guard)(pg).Allow(ctx)
	return p.p, err
}

func (pg *pipelineGuard) Done(ctx context.Context, p breaker.Permit, err error) error {
	return GuardPermit{g: (*Guard)(pg), p: p}.Done(ctx, err)
}

// Guards holds a Guard per breaker of a breaker.Set, created on demand. Safe for concurrent
// use.
type Guards struct {
	ev  *Evidence
	set *breaker.Set
	m   sync.Map // key → *Guard
}

// BreakerFor returns the Guard of key as a pipeline.Breaker: pass gs.BreakerFor as the
// BreakerFor of pipeline.Config, llm.Config or httpx.Config to make each key's breaker
// fleet-wide.
func (gs *Guards) BreakerFor(key string) pipeline.Breaker { return gs.Get(key).Pipeline() }

// Guards returns the Guards of set's breakers.
func (e *Evidence) Guards(set *breaker.Set) *Guards { return &Guards{ev: e, set: set} }

// Get returns the Guard of the set's breaker for key, creating either if needed. When the set
// has forgotten an idle breaker and made a new one, the Guard follows.
func (gs *Guards) Get(key string) *Guard {
	b := gs.set.Get(key)
	if v, ok := gs.m.Load(key); ok && v.(*Guard).b == b {
		return v.(*Guard)
	}
	g := gs.ev.Guard(b)
	gs.m.Store(key, g)
	return g
}
