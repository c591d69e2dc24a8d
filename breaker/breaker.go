package breaker

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-go/rebound"
)

// State is a breaker's state.
type State uint8

// The states. A forced breaker (ForceOpen, ForceClosed) reports Open or Closed.
const (
	// Closed admits every call and watches the outcomes.
	Closed State = iota
	// Open refuses every call with OpenError until its open time has passed.
	Open
	// HalfOpen admits a limited number of probes; enough successes close the breaker, a failure
	// opens it again.
	HalfOpen
)

// String returns "closed", "open" or "half_open", the names of the breaker_changed event (docs/cli.md, "JSON events").
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

type forced uint8

const (
	notForced forced = iota
	forcedOpen
	forcedClosed
)

// Breaker is a circuit breaker for one dependency. It is safe for concurrent use. Its methods
// never call user code while holding its lock.
type Breaker struct {
	s        Settings
	failures classSet
	neutral  classSet

	// fast mirrors gen<<2 | quiet<<1 | closed, so that the hot path takes no lock: closed admits
	// a call with one atomic load; quiet means a success changes nothing (closed, no failure in a
	// row, a full count window holding only fast successes, or forced closed), so reporting one
	// is a second atomic load.
	fast atomic.Uint64
	// used is set by every admission (and by Set.Get) and cleared by a Set's sweep, so that a
	// breaker its users hold, rather than look up, is not taken for idle.
	used atomic.Bool

	epoch time.Time // creation, for Permit.start

	mu          sync.Mutex
	state       State
	forced      forced
	gen         uint64 // bumped on every change of state; outcomes of older calls are dropped
	consecutive int    // failures in a row while closed
	win         window
	openFor     time.Duration // the current opening's length
	openUntil   time.Time
	probes      int // probes in flight
	lastProbe   time.Time
	successes   int // successful probes in this half-open period
}

// New returns a closed breaker with s's defaults filled in, or an error naming the setting that
// is out of range.
func New(s Settings) (*Breaker, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	return newBreaker(s), nil
}

func newBreaker(s Settings) *Breaker {
	b := &Breaker{
		s:        s,
		failures: setOf(s.Failures),
		neutral:  setOf(s.Neutral),
		win:      newWindow(s.WindowSize, s.WindowPeriod),
		openFor:  s.OpenFor,
	}
	if s.SlowCall > 0 {
		b.epoch = time.Now()
	}
	b.publish()
	return b
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.s.Name }

// State returns the breaker's state now. An open breaker whose open time has passed reports
// HalfOpen: the next call is admitted as a probe.
func (b *Breaker) State() State { return b.StateAt(time.Now()) }

// StateAt is State at the given time.
func (b *Breaker) StateAt(now time.Time) State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && b.forced == notForced && !now.Before(b.openUntil) {
		return HalfOpen
	}
	return b.state
}

// Allow admits a call, or refuses it with an *OpenError (which matches rebound.ErrCircuitOpen).
// It reads the clock only when it needs to: when the breaker is open, or measures slow calls.
func (b *Breaker) Allow() (Permit, error) {
	if v := b.fast.Load(); v&fastClosed != 0 {
		b.markUsed()
		return Permit{b: b, gen: v >> 2}, nil // the closed path takes no lock
	}
	return b.allowSlow()
}

// markUsed records a use for a Set's sweep: one atomic load, and a store once per sweep.
func (b *Breaker) markUsed() {
	if !b.used.Load() {
		b.used.Store(true)
	}
}

func (b *Breaker) allowSlow() (Permit, error) { return b.allow(context.Background(), time.Time{}) }

// AllowAt is Allow at the given time (which must not be zero).
func (b *Breaker) AllowAt(now time.Time) (Permit, error) {
	return b.allow(context.Background(), now)
}

func (b *Breaker) allow(ctx context.Context, now time.Time) (Permit, error) {
	b.markUsed()
	if v := b.fast.Load(); v&fastClosed != 0 {
		return Permit{b: b, gen: v >> 2}, nil
	}
	if b.s.SlowCall > 0 && now.IsZero() {
		now = time.Now()
	}
	b.mu.Lock()
	if b.state == Closed {
		p := Permit{b: b, gen: b.gen, start: b.since(now)}
		b.mu.Unlock()
		return p, nil
	}
	if b.forced == forcedOpen {
		b.mu.Unlock()
		return Permit{}, &OpenError{Name: b.s.Name, State: Open}
	}
	if now.IsZero() {
		now = time.Now()
	}
	var ch change
	if b.state == Open {
		if now.Before(b.openUntil) {
			until := b.openUntil
			b.mu.Unlock()
			return Permit{}, &OpenError{Name: b.s.Name, State: Open, Until: until}
		}
		ch = b.setState(HalfOpen, now)
	}
	// Half-open. A probe that has not reported for MaxOpen is taken for a failed one (its caller
	// lost the Permit, or the call hangs): the breaker opens again rather than stay stuck.
	if b.probes >= b.s.MaxProbes && now.Sub(b.lastProbe) >= b.s.ProbeTimeout {
		b.doubleOpenFor()
		ch2 := b.setState(Open, now)
		until := b.openUntil
		b.mu.Unlock()
		b.notify(ctx, ch)
		b.notify(ctx, ch2)
		return Permit{}, &OpenError{Name: b.s.Name, State: Open, Until: until}
	}
	if b.probes >= b.s.MaxProbes {
		b.mu.Unlock()
		b.notify(ctx, ch)
		return Permit{}, &OpenError{Name: b.s.Name, State: HalfOpen, Until: now}
	}
	b.probes++
	b.lastProbe = now
	p := Permit{b: b, gen: b.gen, start: b.since(now)}
	b.mu.Unlock()
	b.notify(ctx, ch)
	return p, nil
}

// since returns now as ns since b.epoch, plus one (0 means no time); 0 for a zero now.
func (b *Breaker) since(now time.Time) int64 {
	if now.IsZero() {
		return 0
	}
	return int64(now.Sub(b.epoch)) + 1
}

func (b *Breaker) record(ctx context.Context, now time.Time, p Permit, o outcome) {
	if now.IsZero() && (b.s.SlowCall > 0 || b.win.timed()) {
		now = time.Now()
	}
	slow := o != neutral && b.s.SlowCall > 0 && p.start != 0 && time.Duration(b.since(now)-p.start) >= b.s.SlowCall

	b.mu.Lock()
	if p.gen != b.gen || b.forced != notForced {
		b.mu.Unlock()
		return
	}
	var ch change
	switch b.state {
	case Closed:
		if o == neutral {
			break
		}
		if o == failure {
			b.consecutive++
		} else {
			b.consecutive = 0
		}
		b.win.add(now, o == failure, slow)
		if b.shouldTrip() {
			ch = b.setState(Open, now)
		} else {
			b.publish()
		}
	case HalfOpen:
		b.probes--
		switch {
		case o == neutral:
			// A neutral probe says nothing about the dependency: its slot is free again.
		case o == failure || slow:
			b.doubleOpenFor()
			ch = b.setState(Open, now)
		default:
			b.successes++
			if b.successes >= b.s.SuccessesToClose {
				b.openFor = b.s.OpenFor
				ch = b.setState(Closed, now)
			}
		}
	}
	b.mu.Unlock()
	b.notify(ctx, ch)
}

// doubleOpenFor doubles the open time after a failed probe, up to MaxOpen (by default OpenFor:
// no doubling), without overflowing however large MaxOpen is; b.mu is held.
func (b *Breaker) doubleOpenFor() {
	if b.openFor > b.s.MaxOpen/2 {
		b.openFor = b.s.MaxOpen
		return
	}
	b.openFor *= 2
}

func (b *Breaker) shouldTrip() bool {
	if b.s.ConsecutiveFailures > 0 && b.consecutive >= b.s.ConsecutiveFailures {
		return true
	}
	w := &b.win
	if w.calls < b.s.MinCalls || w.calls == 0 {
		return false
	}
	if b.s.FailureRate > 0 && float64(w.failures) >= b.s.FailureRate*float64(w.calls) {
		return true
	}
	return b.s.SlowCall > 0 && float64(w.slow) >= b.s.SlowCallRate*float64(w.calls)
}

const (
	fastClosed = 1
	fastQuiet  = 2
)

// publish mirrors the state into b.fast; b.mu is held (or b is not yet shared).
func (b *Breaker) publish() {
	v := b.gen << 2
	if b.state == Closed && b.s.SlowCall == 0 { // slow calls need the start time: the locked path
		v |= fastClosed
		w := &b.win
		if b.forced == forcedClosed ||
			b.consecutive == 0 && !w.timed() && w.failures == 0 && w.slow == 0 && w.calls == len(w.ring) {
			v |= fastQuiet
		}
	}
	b.fast.Store(v)
}

// change is a change of state to announce once the lock is released.
type change struct {
	from, to State
	at       time.Time
	ok       bool
}

// setState moves to state to; b.mu is held. now may be zero for forced changes (then the
// event's time is the clock's).
func (b *Breaker) setState(to State, now time.Time) change {
	from := b.state
	b.state = to
	b.gen++
	b.probes = 0
	b.successes = 0
	switch to {
	case Open:
		if now.IsZero() {
			now = time.Now() // the closed path reads no clock; opening does
		}
		b.openUntil = now.Add(b.jitter(b.openFor))
	case Closed:
		b.consecutive = 0
		b.win.reset()
	}
	b.publish()
	return change{from: from, to: to, at: now, ok: from != to}
}

// jitter lengthens an open time d by a random share of it, up to Settings.Jitter, without
// overflowing; b.mu is held.
func (b *Breaker) jitter(d time.Duration) time.Duration {
	if b.s.Jitter == 0 {
		return d
	}
	extra := float64(d) * b.s.Jitter * b.s.Rand()
	if extra >= float64(math.MaxInt64-d) {
		return math.MaxInt64
	}
	return d + time.Duration(extra)
}

// notify runs the callbacks for ch; b.mu must not be held.
func (b *Breaker) notify(ctx context.Context, ch change) {
	if !ch.ok {
		return
	}
	if b.s.OnStateChange != nil {
		b.s.OnStateChange(b.s.Name, ch.from, ch.to)
	}
	b.s.Hook.Emit(ctx, rebound.Event{
		Time: ch.at, Kind: rebound.BreakerChanged, Model: b.s.Name,
		From: ch.from.String(), To: ch.to.String(),
	})
}
