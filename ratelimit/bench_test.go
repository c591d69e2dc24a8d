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
	l := ratelimit.New(ratelimit.Config{})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	probe, _ := l.AllowAt(now, 100)
	probe.ObserveAt(now, anthropicHeader(1_000_000, 999_999, now.Add(time.Second)), http.StatusOK)
	var inFlight [4]ratelimit.Permit
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Millisecond)
		p, d := l.AllowAt(now, 100)
		if d != 0 {
			b.Fatalf("wait %v", d)
		}
		inFlight[i%4].ObserveAt(now, anthropicHeader(1_000_000, 999_990, now.Add(time.Second)), http.StatusOK)
		inFlight[i%4] = p
		i++
	}
}

// BenchmarkAllowObserveAtBusy is BenchmarkAllowObserveAt at a gateway's pace: 5,000 calls a
// second of explicit time, 256 in flight, no token estimate (a gateway sends none), with room
// in the bucket.
func BenchmarkAllowObserveAtBusy(b *testing.B) {
	l := ratelimit.New(ratelimit.Config{})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	probe, _ := l.AllowAt(now, 0)
	probe.ObserveAt(now, anthropicHeader(4000, 4000, now), http.StatusOK)
	var inFlight [256]ratelimit.Permit
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(200 * time.Microsecond)
		p, d := l.AllowAt(now, 0)
		if d != 0 {
			b.Fatalf("wait %v", d)
		}
		inFlight[i%len(inFlight)].ObserveAt(now, anthropicHeader(4000, 4000, now), http.StatusOK)
		inFlight[i%len(inFlight)] = p
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
