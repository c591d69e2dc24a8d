package ratelimit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rebound-go/rebound/ratelimit"
)

// BenchmarkAllowObserveAt is the limiter's cost per call with room in the bucket: one
// admission and one report of a response with Anthropic's rate-limit headers, at 100 calls a
// second of explicit time with 4 calls in flight.
func BenchmarkAllowObserveAt(b *testing.B) {
	benchAllowObserve(b, 10*time.Millisecond, 4, 100, func(now time.Time) http.Header {
		return anthropicHeader(1_000_000, 999_990, now.Add(time.Second))
	})
}

// BenchmarkAllowObserveAtBusy is BenchmarkAllowObserveAt at a gateway's pace: 5,000 calls a
// second of explicit time, 256 in flight, no token estimate (a gateway sends none), with room
// in the bucket (fakellm's nominal full bucket of 4,000).
func BenchmarkAllowObserveAtBusy(b *testing.B) {
	benchAllowObserve(b, 200*time.Microsecond, 256, 0, func(now time.Time) http.Header {
		return anthropicHeader(4000, 4000, now)
	})
}

// benchAllowObserve admits a call every step and reports the one admitted inFlight calls
// before, with header(now).
func benchAllowObserve(b *testing.B, step time.Duration, inFlight, tokens int, header func(time.Time) http.Header) {
	l := ratelimit.New(ratelimit.Config{})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	probe, _ := l.AllowAt(now, tokens)
	probe.ObserveAt(now, header(now), http.StatusOK)
	out := make([]ratelimit.Permit, inFlight)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(step)
		p, d := l.AllowAt(now, tokens)
		if d != 0 {
			b.Fatalf("wait %v", d)
		}
		out[i%inFlight].ObserveAt(now, header(now), http.StatusOK)
		out[i%inFlight] = p
		i++
	}
}

// BenchmarkParseHeader parses the six OpenAI rate-limit headers.
func BenchmarkParseHeader(b *testing.B) {
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "500")
	h.Set("x-ratelimit-remaining-requests", "499")
	h.Set("x-ratelimit-reset-requests", "120ms")
	h.Set("x-ratelimit-limit-tokens", "30000")
	h.Set("x-ratelimit-remaining-tokens", "29000")
	h.Set("x-ratelimit-reset-tokens", "6m0s")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		ratelimit.ParseHeader(h, now)
	}
}
