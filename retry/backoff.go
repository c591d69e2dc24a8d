package retry

import (
	"math"
	"strconv"
	"time"
)

// Jitter is how a delay is randomised. The zero value is JitterFull.
type Jitter uint8

// The jitter kinds. Each is a pure function of the attempt, the Backoff settings and a random
// number r in [0,1) (see Backoff.Delay); the ranges below use exp(n) = min(Cap, Base·Factor^n).
const (
	// JitterFull waits r·exp(n): anywhere in [0, exp(n)). The default: it spreads a crowd of
	// clients released together the most (AWS "full jitter").
	JitterFull Jitter = iota
	// JitterEqual waits exp(n)/2 + r·exp(n)/2: in [exp(n)/2, exp(n)). Never shorter than half the
	// exponential delay.
	JitterEqual
	// JitterDecorrelated waits Base + r·(min(Cap, 3·prev) − Base), where prev is the previous
	// delay (Base before the first retry, and never less than Base): in [Base, min(Cap, 3·prev)).
	// A random walk whose upper bound grows threefold per retry (AWS "decorrelated jitter"). It is
	// the one kind that reads the previous delay; the retry loop keeps that value, so the function
	// stays pure.
	JitterDecorrelated
	// JitterProportional waits min(Cap, exp(n)·(1 + Spread·(2r − 1))): within ±Spread of the
	// exponential delay, in [exp(n)·(1−Spread), min(Cap, exp(n)·(1+Spread))).
	JitterProportional
	// JitterNone waits exactly exp(n).
	JitterNone
)

var jitterNames = [...]string{"full", "equal", "decorrelated", "proportional", "none"}

// String returns the kind's name: "full", "equal", "decorrelated", "proportional", "none".
func (j Jitter) String() string {
	if int(j) < len(jitterNames) {
		return jitterNames[j]
	}
	return "jitter(" + strconv.Itoa(int(j)) + ")"
}

// The defaults of docs/architecture.md ("Defaults").
const (
	DefaultBase   = time.Second
	DefaultFactor = 2.0
	DefaultCap    = 60 * time.Second
	// DefaultSpread is the spread of JitterProportional: ±25 %.
	DefaultSpread = 0.25
)

// Backoff is the settings of the delay functions. Its zero value gives the defaults: base 1 s,
// factor 2, cap 60 s, proportional spread 0.25.
type Backoff struct {
	// Base is the delay before the first retry, before jitter. Zero or negative: 1 s.
	Base time.Duration
	// Factor multiplies the delay at each retry. Zero or negative: 2. Values below 1 are taken
	// as 1 (a constant delay).
	Factor float64
	// Cap bounds every delay. Zero or negative: 60 s. A cap below Base makes every delay Cap.
	Cap time.Duration
	// Spread is JitterProportional's relative spread, in (0, 1]. Zero or negative: 0.25;
	// above 1: 1.
	Spread float64
}

func (b Backoff) norm() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBase
	}
	switch {
	case b.Factor <= 0 || b.Factor != b.Factor:
		b.Factor = DefaultFactor
	case b.Factor < 1:
		b.Factor = 1
	}
	if b.Cap <= 0 {
		b.Cap = DefaultCap
	}
	switch {
	case b.Spread <= 0 || b.Spread != b.Spread:
		b.Spread = DefaultSpread
	case b.Spread > 1:
		b.Spread = 1
	}
	return b
}

// unit clamps r into [0,1); NaN is 0.
func unit(r float64) float64 {
	switch {
	case r > 0 && r < 1:
		return r
	case r >= 1:
		return math.Nextafter(1, 0)
	}
	return 0
}

// scale returns d·f as a Duration, saturating at limit (f ≥ 0, d ≥ 0, limit > 0).
func scale(d time.Duration, f float64, limit time.Duration) time.Duration {
	x := float64(d) * f
	if !(x < float64(limit)) { // also catches +Inf and NaN
		return limit
	}
	return time.Duration(x)
}

// Exponential returns exp(n) = min(Cap, Base·Factor^attempt), the delay before retry number
// attempt (counted from 0: attempt 0 is the wait before the second call) without jitter. It never
// overflows: a huge attempt gives Cap. A negative attempt counts as 0.
func Exponential(attempt int, b Backoff) time.Duration {
	b = b.norm()
	return exponential(attempt, b)
}

func exponential(attempt int, b Backoff) time.Duration {
	if attempt <= 0 || b.Factor == 1 {
		return min(b.Base, b.Cap)
	}
	return scale(b.Base, math.Pow(b.Factor, float64(attempt)), b.Cap)
}

// FullJitter returns r·exp(attempt): a delay in [0, exp(attempt)). See JitterFull.
func FullJitter(attempt int, b Backoff, r float64) time.Duration {
	b = b.norm()
	return scale(exponential(attempt, b), unit(r), b.Cap)
}

// EqualJitter returns exp/2 + r·exp/2: a delay in [exp/2, exp). See JitterEqual.
func EqualJitter(attempt int, b Backoff, r float64) time.Duration {
	b = b.norm()
	e := exponential(attempt, b)
	half := e / 2
	return half + scale(e-half, unit(r), b.Cap)
}

// ProportionalJitter returns min(Cap, exp·(1 + Spread·(2r−1))). See JitterProportional.
func ProportionalJitter(attempt int, b Backoff, r float64) time.Duration {
	b = b.norm()
	return scale(exponential(attempt, b), 1+b.Spread*(2*unit(r)-1), b.Cap)
}

// DecorrelatedJitter returns Base + r·(min(Cap, 3·max(prev, Base)) − Base), where prev is the
// previous delay (0 or Base before the first retry): the cap bounds the range drawn from, so a
// walk that reaches it spreads below it instead of piling up at Cap. See JitterDecorrelated.
func DecorrelatedJitter(prev time.Duration, b Backoff, r float64) time.Duration {
	b = b.norm()
	if b.Cap <= b.Base {
		return b.Cap
	}
	prev = max(prev, b.Base)
	hi := scale(prev, 3, b.Cap) // ≤ Cap
	return b.Base + scale(hi-b.Base, unit(r), b.Cap-b.Base)
}

// Delay returns the delay of kind j before retry number attempt (from 0), given the previous
// delay (read by JitterDecorrelated only) and a random number r in [0,1) (values outside are
// clamped; JitterNone ignores it). It is a pure function: no clock, no state, safe to share.
func (b Backoff) Delay(j Jitter, attempt int, prev time.Duration, r float64) time.Duration {
	switch j {
	case JitterEqual:
		return EqualJitter(attempt, b, r)
	case JitterDecorrelated:
		return DecorrelatedJitter(prev, b, r)
	case JitterProportional:
		return ProportionalJitter(attempt, b, r)
	case JitterNone:
		return Exponential(attempt, b)
	}
	return FullJitter(attempt, b, r)
}
