package ratelimit

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestSendsStayBounded: the record of admissions stays small when responses stop carrying
// rate-limit headers after a first report, and when they never carry any: every Wait scans it.
func TestSendsStayBounded(t *testing.T) {
	for _, first := range []bool{true, false} {
		l := New(Config{Reserve: -1})
		now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
		p, _ := l.AllowAt(now, 0)
		h := http.Header{}
		if first {
			h.Set("anthropic-ratelimit-requests-limit", "1000")
			h.Set("anthropic-ratelimit-requests-remaining", "999")
			h.Set("anthropic-ratelimit-requests-reset", now.Add(time.Second).Format(time.RFC3339))
		}
		p.ObserveAt(now, h, 200)
		admitted := 0
		for i := range 20000 {
			at := now.Add(time.Duration(i) * time.Millisecond)
			p, d := l.AllowAt(at, 10)
			if d != 0 {
				continue
			}
			admitted++
			p.ObserveAt(at, nil, 200)
		}
		l.mu.Lock()
		n := len(l.sends)
		l.mu.Unlock()
		if n > 16 {
			t.Errorf("first report %v: %d admissions kept after %d calls", first, n, admitted)
		}
		if admitted < 19000 {
			t.Errorf("first report %v: admitted %d of 20000", first, admitted)
		}
	}
}

// TestPacingResumes: after a stale report was forgotten, a response with headers paces again.
func TestPacingResumes(t *testing.T) {
	l := New(Config{Reserve: -1})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	hdr := func(remaining int, reset time.Time) http.Header {
		h := http.Header{}
		h.Set("anthropic-ratelimit-requests-limit", "20")
		h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(remaining))
		h.Set("anthropic-ratelimit-requests-reset", reset.Format(time.RFC3339))
		return h
	}
	p, _ := l.AllowAt(now, 0)
	p.ObserveAt(now, hdr(19, now.Add(time.Second)), 200)
	p, _ = l.AllowAt(now, 0)
	p.ObserveAt(now, nil, 200) // headers stop
	now = now.Add(2 * time.Second)
	p, d := l.AllowAt(now, 0)
	if d != 0 {
		t.Fatalf("stale report still paces: wait %v", d)
	}
	p.ObserveAt(now, hdr(0, now.Add(10*time.Second)), 200) // headers back: bucket empty
	if _, d := l.AllowAt(now, 0); d == 0 {
		t.Fatal("an empty bucket reported after the headers came back does not pace")
	}
}

// A limit reported once and then no more (later answers report only the requests limit) stops
// pacing once its reset has passed, and does not keep the record of admissions growing.
func TestOneLimitStopsReporting(t *testing.T) {
	l := New(Config{Reserve: -1})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	reqs := func(h http.Header, at time.Time) http.Header {
		h.Set("x-ratelimit-limit-requests", "100000")
		h.Set("x-ratelimit-remaining-requests", "99999")
		h.Set("x-ratelimit-reset-requests", "1ms")
		return h
	}
	first := reqs(http.Header{}, now)
	first.Set("x-ratelimit-limit-tokens", "1000")
	first.Set("x-ratelimit-remaining-tokens", "900")
	first.Set("x-ratelimit-reset-tokens", "1s")
	p, _ := l.AllowAt(now, 100)
	p.ObserveAt(now, first, 200)
	admitted := 0
	for i := range 20000 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		p, d := l.AllowAt(at, 100)
		if d != 0 {
			continue
		}
		admitted++
		p.ObserveAt(at, reqs(http.Header{}, at), 200)
	}
	l.mu.Lock()
	n := len(l.sends)
	l.mu.Unlock()
	// Kept: those within the reorder window of the latest report, and those since the oldest
	// report of the history the refill rate is proved from (at most maxPairCalls).
	if n > maxPairCalls+16 || admitted < 19000 {
		t.Errorf("admitted %d of 20000; %d admissions kept", admitted, n)
	}
}

// TestRateFromRoundedResets: the refill rate the limiter infers from a provider's headers, for
// a true 20 requests a second with buckets of 20, 5 and 2, Anthropic's resets (RFC 3339, rounded
// up to the whole second) and OpenAI's (a duration rounded to the millisecond), while calls go
// out at 19 a second and are answered at once: after 10 s it is within 5 % of the truth and never
// above it. (From one report at a time, a burst of 5 under whole-second resets proved 3.75/s.)
func TestRateFromRoundedResets(t *testing.T) {
	const rps = 20.0
	for _, openai := range []bool{false, true} {
		for _, burst := range []float64{20, 5, 2} {
			l := New(Config{Reserve: -1})
			start := time.Date(2026, 11, 28, 12, 0, 0, 300_000_000, time.UTC)
			level, last := burst, start
			var rate float64
			for i := range 190 {
				now := start.Add(time.Duration(float64(i) * float64(time.Second) / 19))
				p, d := l.AllowAt(now, 0)
				if d != 0 {
					continue // the limiter holds it back: it is not sent
				}
				level = min(burst, level+now.Sub(last).Seconds()*rps)
				last = now
				h := http.Header{}
				status := http.StatusOK
				if level < 1 {
					status = http.StatusTooManyRequests
				} else {
					level--
				}
				remaining := strconv.Itoa(int(level))
				untilFull := time.Duration((burst - level) / rps * float64(time.Second))
				if openai {
					h.Set("x-ratelimit-limit-requests", strconv.Itoa(int(burst)))
					h.Set("x-ratelimit-remaining-requests", remaining)
					h.Set("x-ratelimit-reset-requests", untilFull.Round(time.Millisecond).String())
				} else {
					full := now.Add(untilFull)
					if full.Nanosecond() != 0 {
						full = full.Truncate(time.Second).Add(time.Second)
					}
					h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(int(burst)))
					h.Set("anthropic-ratelimit-requests-remaining", remaining)
					h.Set("anthropic-ratelimit-requests-reset", full.Format(time.RFC3339))
				}
				p.ObserveAt(now, h, status)
				l.mu.Lock()
				rate = l.requests.rate
				l.mu.Unlock()
				if rate > rps {
					t.Fatalf("openai %v, burst %v: after call %d the inferred rate is %.3f/s, above the true %v/s", openai, burst, i, rate, rps)
				}
			}
			// Anthropic's: every answer reports a full bucket (the calls go out at 19/s), so the
			// pairs of reports prove the 19/s taken out of it, over the longest pair (128 kept
			// reports back, 128 calls in 128/19 s) widened by reorderWindow for the way to the
			// provider. OpenAI's: a full bucket's reset of "50ms" is exact to half a
			// millisecond, 1/50.5ms.
			want := 128 / (128.0/19 + reorderWindow.Seconds())
			if openai {
				want = 1 / 0.0505
			}
			if math.Abs(rate-want) > 0.001 {
				t.Errorf("openai %v, burst %v: inferred rate %.3f/s after 10 s, want %.3f/s", openai, burst, rate, want)
			}
			t.Logf("openai %v, burst %v: %.3f/s", openai, burst, rate)
		}
	}
}

// TestLevelFloor: levelFloor, which lets waitFor skip the walk over the kept admissions, is
// never above the level that walk finds, over random traffic (bursts, calls left in flight,
// 429s, remaining above the limit, reports arriving out of order).
func TestLevelFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for trial := range 50 {
		l := New(Config{Rand: rng.Float64})
		limit := 1 + rng.IntN(50)
		var out []Permit
		for range 400 {
			now = now.Add(time.Duration(rng.IntN(int(40 * time.Millisecond))))
			if p, d := l.AllowAt(now, 0); d == 0 {
				out = append(out, p)
			}
			for len(out) > 0 && rng.IntN(3) > 0 {
				i := rng.IntN(len(out))
				p := out[i]
				out = append(out[:i], out[i+1:]...)
				status := http.StatusOK
				if rng.IntN(10) == 0 {
					status = http.StatusTooManyRequests
				}
				h := http.Header{}
				h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(limit))
				h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(rng.IntN(limit+3)))
				h.Set("anthropic-ratelimit-requests-reset", now.Add(time.Duration(rng.IntN(3))*time.Second).Format(time.RFC3339))
				p.ObserveAt(now, h, status)
			}
			l.mu.Lock()
			for _, r := range l.requests.reports {
				level := l.levelAt(now, &l.requests, r, l.requests.rateOf(r), false)
				if floor := levelFloor(&l.requests, r, len(l.sends)); floor > level+1e-9 {
					t.Fatalf("trial %d: floor %v above the level %v (%d kept)", trial, floor, level, len(l.sends))
				}
			}
			l.mu.Unlock()
		}
	}
}
