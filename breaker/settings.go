package breaker

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rebound-go/rebound"
)

// Settings configure a Breaker. The zero value opens after 5 consecutive failures or a failure
// rate of 50 % over the last 100 calls (once 20 were seen), stays open 1 s (up to 20 % more, at
// random), then lets one probe through; a failed probe opens it for another 1–1.2 s, and 2
// successful probes close it. Every field documents its default; a negative number turns a rule
// off where the field says so.
type Settings struct {
	// Name names the dependency the breaker guards ("anthropic/claude-x", "tool/search"). It is in
	// every OpenError and every BreakerChanged event. In a Set, each breaker is named by its key.
	Name string

	// ConsecutiveFailures opens the breaker after this many failures in a row while closed.
	// Default 5; negative: never open on a run of failures (only on rates).
	ConsecutiveFailures int

	// OpenFor is how long the breaker stays open once it opens, and again after each failed
	// probe, before it lets the next probe through (lengthened by Jitter). Default 1 s: the
	// interval at which an open breaker looks for its dependency's recovery, so a recovered
	// dependency is back in use within about OpenFor plus one call, however long it was down.
	OpenFor time.Duration
	// MaxOpen, when above OpenFor, makes the open time double with each failed probe up to
	// MaxOpen (back to OpenFor when the breaker closes): less load on a long-dead dependency, at
	// the price of noticing its recovery up to MaxOpen late. Default OpenFor (no doubling); never
	// less than OpenFor.
	MaxOpen time.Duration
	// Jitter lengthens every open time by a random share of it, up to Jitter, so that the
	// processes of a fleet that opened on one outage do not probe in step. Default 0.2 (an
	// open time of 1 s lasts 1–1.2 s); negative: none.
	Jitter float64
	// Rand returns a random number in [0,1) for Jitter. Default math/rand/v2's Float64.
	Rand func() float64

	// SuccessesToClose is how many probes must succeed, while half-open, to close the breaker.
	// Default 2.
	SuccessesToClose int
	// MaxProbes is how many probes may be in flight at once while half-open; further calls are
	// refused with OpenError until one finishes. Default 1. Every Permit must be reported: a probe
	// whose outcome has not come ProbeTimeout after the last probe was admitted counts as failed,
	// so that a lost Permit cannot keep the breaker half-open forever.
	MaxProbes int
	// ProbeTimeout is how long a half-open breaker waits for its probes' outcomes before it takes
	// them for failed. Default 1 minute (or MaxOpen, if longer); make it longer than the calls
	// the breaker guards may take.
	ProbeTimeout time.Duration

	// WindowSize is the number of most recent calls over which the failure and slow-call rates
	// are computed (a count-based sliding window). Default 100. Ignored when WindowPeriod is set.
	WindowSize int
	// WindowPeriod, when positive, makes the window time-based instead: the calls of the last
	// WindowPeriod, kept in 10 buckets of WindowPeriod/10 that roll as time passes. Default 0
	// (count-based).
	WindowPeriod time.Duration
	// FailureRate opens the breaker when the share of failures in the window reaches it, once
	// the window holds at least MinCalls calls. A fraction in (0, 1]. Default 0.5; negative: off.
	FailureRate float64
	// MinCalls is the number of calls the window must hold before a rate can open the breaker.
	// Default 20; with a count-based window, at most WindowSize.
	MinCalls int

	// SlowCall is the duration from admission to outcome at or beyond which a call counts as
	// slow. Default 0: no call is slow, and the breaker never reads the clock on the closed
	// path. A slow probe counts as a failed probe.
	SlowCall time.Duration
	// SlowCallRate opens the breaker when the share of slow calls in the window reaches it, once
	// the window holds at least MinCalls calls. Default 1 (every call slow); used only with
	// SlowCall.
	SlowCallRate float64

	// Failures lists the classes that count as failures. Default: transient, overloaded, timeout.
	// Rate limiting is not a failure by default: 429s are the limiter's business, and a breaker
	// that opened on them would move traffic to a fallback that draws on the same limit.
	Failures []rebound.Class
	// Neutral lists the classes that count as nothing: not a success, not a failure, not a call
	// in the window. Default: canceled. Every class in neither list (invalid, auth, quota,
	// rate_limited, unknown, ...) is a success as far as the dependency's health goes: it
	// answered. A neutral probe never closes a half-open breaker.
	Neutral []rebound.Class

	// OnStateChange, if set, is called after every change of state, with no lock held, on the
	// goroutine whose call caused the change (or that called ForceOpen, ForceClosed or Reset). It
	// may call the breaker. Under concurrency, calls for two quick changes may arrive in either
	// order.
	OnStateChange func(name string, from, to State)
	// Hook, if set, receives a rebound.BreakerChanged event (Model: Name; From, To: state names)
	// for every change of state, under the same rules as OnStateChange. Events also reach the
	// Hook of a rebound.Scope in the context, when the change happened in Do or DoneContext.
	Hook rebound.Hook
}

// Defaults of Settings.
const (
	DefaultConsecutiveFailures = 5
	DefaultOpenFor             = time.Second
	DefaultJitter              = 0.2
	DefaultProbeTimeout        = time.Minute
	DefaultSuccessesToClose    = 2
	DefaultMaxProbes           = 1
	DefaultWindowSize          = 100
	DefaultFailureRate         = 0.5
	DefaultMinCalls            = 20
	DefaultSlowCallRate        = 1.0
	numBuckets                 = 10
)

// outcome kinds as a bitmask per class.
type classSet uint32

func (s classSet) has(c rebound.Class) bool { return s&(1<<c) != 0 }

func setOf(cs []rebound.Class) classSet {
	var s classSet
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// withDefaults fills in defaults and validates.
func (s Settings) withDefaults() (Settings, error) {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if s.OpenFor == 0 {
		s.OpenFor = DefaultOpenFor
	}
	if s.OpenFor < 0 {
		return s, fmt.Errorf("breaker %q: OpenFor %v is negative", s.Name, s.OpenFor)
	}
	if s.MaxOpen < s.OpenFor {
		s.MaxOpen = s.OpenFor
	}
	if s.Jitter == 0 {
		s.Jitter = DefaultJitter
	} else if s.Jitter < 0 {
		s.Jitter = 0
	}
	if s.Rand == nil {
		s.Rand = rand.Float64
	}
	if s.ProbeTimeout == 0 {
		s.ProbeTimeout = max(DefaultProbeTimeout, s.MaxOpen)
	}
	if s.ProbeTimeout < 0 {
		return s, fmt.Errorf("breaker %q: ProbeTimeout %v is negative", s.Name, s.ProbeTimeout)
	}
	if s.SuccessesToClose == 0 {
		s.SuccessesToClose = DefaultSuccessesToClose
	}
	if s.SuccessesToClose < 0 {
		return s, fmt.Errorf("breaker %q: SuccessesToClose %d is negative", s.Name, s.SuccessesToClose)
	}
	if s.MaxProbes == 0 {
		s.MaxProbes = DefaultMaxProbes
	}
	if s.MaxProbes < 0 {
		return s, fmt.Errorf("breaker %q: MaxProbes %d is negative", s.Name, s.MaxProbes)
	}
	if s.WindowSize == 0 {
		s.WindowSize = DefaultWindowSize
	}
	if s.WindowSize < 0 {
		return s, fmt.Errorf("breaker %q: WindowSize %d is negative", s.Name, s.WindowSize)
	}
	if s.WindowPeriod < 0 {
		return s, fmt.Errorf("breaker %q: WindowPeriod %v is negative", s.Name, s.WindowPeriod)
	}
	if s.FailureRate == 0 {
		s.FailureRate = DefaultFailureRate
	}
	if s.FailureRate > 1 {
		return s, fmt.Errorf("breaker %q: FailureRate %v is above 1", s.Name, s.FailureRate)
	}
	if s.MinCalls == 0 {
		s.MinCalls = DefaultMinCalls
	}
	if s.MinCalls < 0 {
		return s, fmt.Errorf("breaker %q: MinCalls %d is negative", s.Name, s.MinCalls)
	}
	if s.WindowPeriod == 0 && s.MinCalls > s.WindowSize {
		s.MinCalls = s.WindowSize
	}
	if s.SlowCall < 0 {
		return s, fmt.Errorf("breaker %q: SlowCall %v is negative", s.Name, s.SlowCall)
	}
	if s.SlowCallRate == 0 {
		s.SlowCallRate = DefaultSlowCallRate
	}
	if s.SlowCallRate > 1 {
		return s, fmt.Errorf("breaker %q: SlowCallRate %v is above 1", s.Name, s.SlowCallRate)
	}
	if s.Failures == nil {
		s.Failures = []rebound.Class{rebound.ClassTransient, rebound.ClassOverloaded, rebound.ClassTimeout}
	}
	if s.Neutral == nil {
		s.Neutral = []rebound.Class{rebound.ClassCanceled}
	}
	if setOf(s.Failures)&setOf(s.Neutral) != 0 {
		return s, fmt.Errorf("breaker %q: a class is listed both as failure and as neutral", s.Name)
	}
	return s, nil
}
