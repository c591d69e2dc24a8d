package retry_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rebound-go/rebound/retry"
)

const almostOne = 0.9999999999

func TestExponentialEdges(t *testing.T) {
	def := retry.Backoff{}
	tests := []struct {
		name    string
		attempt int
		b       retry.Backoff
		want    time.Duration
	}{
		{"attempt 0 is base", 0, def, time.Second},
		{"attempt 1 doubles", 1, def, 2 * time.Second},
		{"attempt 5", 5, def, 32 * time.Second},
		{"attempt 6 reaches the cap", 6, def, 60 * time.Second},
		{"attempt 63", 63, def, 60 * time.Second},
		{"attempt 64", 64, def, 60 * time.Second},
		{"attempt 1100 overflows float64", 1100, def, 60 * time.Second},
		{"max int attempt", math.MaxInt, def, 60 * time.Second},
		{"negative attempt counts as 0", -3, def, time.Second},
		{"factor 1 is constant", 40, retry.Backoff{Factor: 1}, time.Second},
		{"factor below 1 is constant", 40, retry.Backoff{Factor: 0.5}, time.Second},
		{"factor 1.5", 2, retry.Backoff{Factor: 1.5, Base: 100 * time.Millisecond}, 225 * time.Millisecond},
		{"cap below base", 0, retry.Backoff{Base: 5 * time.Second, Cap: time.Second}, time.Second},
		{"huge base and factor", 10, retry.Backoff{Base: time.Duration(math.MaxInt64 / 2), Factor: 1e300, Cap: time.Duration(math.MaxInt64)}, time.Duration(math.MaxInt64)},
		{"negative settings are defaults", 1, retry.Backoff{Base: -1, Factor: -2, Cap: -3}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retry.Exponential(tt.attempt, tt.b); got != tt.want {
				t.Fatalf("Exponential(%d, %+v) = %v, want %v", tt.attempt, tt.b, got, tt.want)
			}
			if got := tt.b.Delay(retry.JitterNone, tt.attempt, 0, 0.7); got != tt.want {
				t.Fatalf("Delay(JitterNone, %d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestJitterEdges(t *testing.T) {
	def := retry.Backoff{}
	tests := []struct {
		name    string
		kind    retry.Jitter
		attempt int
		prev    time.Duration
		r       float64
		want    time.Duration
	}{
		{"full r=0", retry.JitterFull, 0, 0, 0, 0},
		{"full r=0.5 attempt 0", retry.JitterFull, 0, 0, 0.5, 500 * time.Millisecond},
		{"full r=0.5 attempt 2", retry.JitterFull, 2, 0, 0.5, 2 * time.Second},
		{"full r=0.5 at the cap", retry.JitterFull, 1000, 0, 0.5, 30 * time.Second},
		{"full r=0.5 max attempt", retry.JitterFull, math.MaxInt, 0, 0.5, 30 * time.Second},
		{"full r<0 clamps to 0", retry.JitterFull, 3, 0, -1, 0},
		{"full NaN is 0", retry.JitterFull, 3, 0, math.NaN(), 0},
		{"equal r=0 is half", retry.JitterEqual, 0, 0, 0, 500 * time.Millisecond},
		{"equal r=0.5", retry.JitterEqual, 1, 0, 0.5, 1500 * time.Millisecond},
		{"equal at the cap r=0", retry.JitterEqual, 99, 0, 0, 30 * time.Second},
		{"proportional r=0.5 is exact", retry.JitterProportional, 2, 0, 0.5, 4 * time.Second},
		{"proportional r=0 is -25%", retry.JitterProportional, 2, 0, 0, 3 * time.Second},
		{"proportional r=0 at the cap", retry.JitterProportional, 500, 0, 0, 45 * time.Second},
		{"proportional near 1 capped", retry.JitterProportional, 500, 0, almostOne, 60 * time.Second},
		{"decorrelated first r=0 is base", retry.JitterDecorrelated, 0, 0, 0, time.Second},
		{"decorrelated first r=0.5", retry.JitterDecorrelated, 0, 0, 0.5, 2 * time.Second},
		{"decorrelated prev 10s r=0.5", retry.JitterDecorrelated, 3, 10 * time.Second, 0.5, 15500 * time.Millisecond},
		{"decorrelated prev at cap r=0.5", retry.JitterDecorrelated, 9, time.Hour, 0.5, 30500 * time.Millisecond},
		{"decorrelated huge prev", retry.JitterDecorrelated, 9, time.Duration(math.MaxInt64), almostOne, 60 * time.Second},
		{"none ignores r", retry.JitterNone, 2, 0, 0.1, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := def.Delay(tt.kind, tt.attempt, tt.prev, tt.r)
			// r near 1 may land a nanosecond or so below the exact product.
			if diff := got - tt.want; diff < -time.Microsecond || diff > 0 && tt.r >= almostOne || diff > time.Microsecond {
				t.Fatalf("Delay(%v, attempt %d, prev %v, r %v) = %v, want %v", tt.kind, tt.attempt, tt.prev, tt.r, got, tt.want)
			}
		})
	}
}

func TestJitterStrings(t *testing.T) {
	for j, want := range map[retry.Jitter]string{
		retry.JitterFull: "full", retry.JitterEqual: "equal", retry.JitterDecorrelated: "decorrelated",
		retry.JitterProportional: "proportional", retry.JitterNone: "none", retry.Jitter(9): "jitter(9)",
	} {
		if got := j.String(); got != want {
			t.Errorf("Jitter(%d).String() = %q, want %q", j, got, want)
		}
	}
	var zero retry.Jitter
	if zero != retry.JitterFull {
		t.Fatal("the zero Jitter is not JitterFull")
	}
}

// TestDelayRanges checks, over random settings, attempts and random numbers, that every delay
// stays in the range its kind documents.
func TestDelayRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	attempts := func() int {
		switch rng.IntN(4) {
		case 0:
			return rng.IntN(8)
		case 1:
			return rng.IntN(100)
		case 2:
			return rng.IntN(5000)
		}
		return math.MaxInt - rng.IntN(3)
	}
	dur := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	for i := range 200000 {
		b := retry.Backoff{
			Base:   dur(time.Nanosecond, time.Hour),
			Factor: 1 + rng.Float64()*9,
			Cap:    dur(time.Nanosecond, 24*time.Hour),
			Spread: rng.Float64(),
		}
		if i%50 == 0 {
			b = retry.Backoff{} // the defaults
		}
		n := attempts()
		r := rng.Float64()
		prev := dur(0, 48*time.Hour)
		nb := b
		if nb.Spread == 0 {
			nb.Spread = retry.DefaultSpread
		}
		if nb.Base == 0 {
			nb.Base, nb.Factor, nb.Cap = retry.DefaultBase, retry.DefaultFactor, retry.DefaultCap
		}
		exp := retry.Exponential(n, b)
		if want := min(nb.Base, nb.Cap); exp < want || exp > nb.Cap {
			t.Fatalf("Exponential(%d, %+v) = %v, outside [%v, %v]", n, b, exp, want, nb.Cap)
		}
		if n > 0 && exp < retry.Exponential(n-1, b) {
			t.Fatalf("Exponential(%d, %+v) = %v shrinks", n, b, exp)
		}
		check := func(kind retry.Jitter, got, lo, hi time.Duration, hiIncl bool) {
			t.Helper()
			if got < lo || got > hi || !hiIncl && got == hi && lo != hi {
				t.Fatalf("%v: Delay(attempt %d, prev %v, r %v, %+v) = %v, outside [%v, %v]", kind, n, prev, r, b, got, lo, hi)
			}
			if got < 0 || got > nb.Cap {
				t.Fatalf("%v: delay %v outside [0, cap %v]", kind, got, nb.Cap)
			}
		}
		check(retry.JitterFull, b.Delay(retry.JitterFull, n, prev, r), 0, exp, false)
		check(retry.JitterEqual, b.Delay(retry.JitterEqual, n, prev, r), exp/2, exp, exp == 1)
		check(retry.JitterNone, b.Delay(retry.JitterNone, n, prev, r), exp, exp, true)
		plo := time.Duration(float64(exp) * (1 - nb.Spread))
		phi := min(nb.Cap, time.Duration(float64(exp)*(1+nb.Spread)))
		check(retry.JitterProportional, b.Delay(retry.JitterProportional, n, prev, r), plo-1, phi, true)
		if nb.Cap <= nb.Base {
			check(retry.JitterDecorrelated, b.Delay(retry.JitterDecorrelated, n, prev, r), nb.Cap, nb.Cap, true)
		} else {
			dhi := nb.Cap
			if p := max(prev, nb.Base); p < nb.Cap/3 {
				dhi = 3 * p
			}
			check(retry.JitterDecorrelated, b.Delay(retry.JitterDecorrelated, n, prev, r), nb.Base, dhi, true)
		}
	}
}

// TestDelayMonotoneInR checks that a larger random number never gives a shorter delay.
func TestDelayMonotoneInR(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := retry.Backoff{Base: 250 * time.Millisecond, Cap: 20 * time.Second, Spread: 0.5}
	for _, kind := range []retry.Jitter{retry.JitterFull, retry.JitterEqual, retry.JitterDecorrelated, retry.JitterProportional, retry.JitterNone} {
		for range 5000 {
			n := rng.IntN(12)
			prev := time.Duration(rng.Int64N(int64(30 * time.Second)))
			r1, r2 := rng.Float64(), rng.Float64()
			if r1 > r2 {
				r1, r2 = r2, r1
			}
			if d1, d2 := b.Delay(kind, n, prev, r1), b.Delay(kind, n, prev, r2); d1 > d2 {
				t.Fatalf("%v: r %v gives %v but larger r %v gives %v", kind, r1, d1, r2, d2)
			}
		}
	}
}

func TestHintDelay(t *testing.T) {
	tests := []struct {
		name string
		p    retry.Policy
		hint time.Duration
		r    float64
		want time.Duration
	}{
		{"no hint", retry.Policy{}, 0, 0.5, 0},
		{"r=0 is the hint", retry.Policy{}, 2 * time.Second, 0, 2 * time.Second},
		{"r=0.5 adds 5%", retry.Policy{}, 2 * time.Second, 0.5, 2100 * time.Millisecond},
		{"never past the cap", retry.Policy{Cap: 10 * time.Second}, 10 * time.Second, almostOne, 10 * time.Second},
		{"capped extra", retry.Policy{Cap: 10 * time.Second}, 9800 * time.Millisecond, almostOne, 10 * time.Second},
		{"negative spread: exact", retry.Policy{HintSpread: -1}, 3 * time.Second, almostOne, 3 * time.Second},
		{"spread 1", retry.Policy{HintSpread: 1}, 3 * time.Second, 0.5, 4500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.HintDelay(tt.hint, tt.r); got != tt.want {
				t.Fatalf("HintDelay(%v, %v) = %v, want %v", tt.hint, tt.r, got, tt.want)
			}
		})
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		p := retry.Policy{Cap: time.Duration(1 + rng.Int64N(int64(time.Hour))), HintSpread: rng.Float64()}
		hint := time.Duration(1 + rng.Int64N(int64(p.Cap)))
		got := p.HintDelay(hint, rng.Float64())
		if got < hint || got > max(hint, p.Cap) || got > hint+time.Duration(float64(hint)*p.HintSpread)+1 {
			t.Fatalf("HintDelay(%v) under %+v = %v: earlier than asked or past the bound", hint, p, got)
		}
	}
}
