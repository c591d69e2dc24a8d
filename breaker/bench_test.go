package breaker_test

import (
	"fmt"
	"testing"

	"github.com/rebound-go/rebound/breaker"
)

// BenchmarkClosed is the hot path: admit a call on a closed breaker and report a success.
func BenchmarkClosed(b *testing.B) {
	br, _ := breaker.New(breaker.Settings{Name: "bench"})
	b.ReportAllocs()
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
	}
}

// BenchmarkClosedTimeWindow is the closed path with a time-based window (one clock read).
func BenchmarkClosedTimeWindow(b *testing.B) {
	br, _ := breaker.New(breaker.Settings{Name: "bench", WindowPeriod: 60_000_000_000})
	b.ReportAllocs()
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
	}
}

// BenchmarkClosedParallel is the closed path from every core at once on one breaker.
func BenchmarkClosedParallel(b *testing.B) {
	br, _ := breaker.New(breaker.Settings{Name: "bench"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := br.Allow()
			if err != nil {
				b.Fatal(err)
			}
			p.Done(nil)
		}
	})
}

// BenchmarkOpen is a refusal.
func BenchmarkOpen(b *testing.B) {
	br, _ := breaker.New(breaker.Settings{Name: "bench"})
	br.ForceOpen()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Allow(); err == nil {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkSetGet looks up an existing key in a set of 100 breakers.
func BenchmarkSetGet(b *testing.B) {
	s, _ := breaker.NewSet(breaker.SetConfig{})
	for i := range 100 {
		s.Get(fmt.Sprintf("anthropic/model-%d", i))
	}
	key := "anthropic/model-42"
	b.ReportAllocs()
	for b.Loop() {
		if s.Get(key) == nil {
			b.Fatal("nil")
		}
	}
}

// BenchmarkSetGetParallel is the lookup from every core at once.
func BenchmarkSetGetParallel(b *testing.B) {
	s, _ := breaker.NewSet(breaker.SetConfig{})
	for i := range 100 {
		s.Get(fmt.Sprintf("anthropic/model-%d", i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Get("anthropic/model-42")
		}
	})
}
