package peers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"

	"github.com/rebound-go/rebound/breaker"
)

// The closed path: admit a call on a closed breaker and record a success. Each library is set
// up to open after 5 consecutive failures.

func BenchmarkBreakerClosed(b *testing.B) {
	b.Run("rebound", func(b *testing.B) {
		br, err := breaker.New(breaker.Settings{Name: "dep"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			p, err := br.Allow()
			if err != nil {
				b.Fatal(err)
			}
			p.Done(nil)
		}
	})
	b.Run("gobreaker", func(b *testing.B) {
		br := gobreaker.NewTwoStepCircuitBreaker[string](gobreaker.Settings{
			Name:        "dep",
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		})
		b.ReportAllocs()
		for b.Loop() {
			done, err := br.Allow()
			if err != nil {
				b.Fatal(err)
			}
			done(nil)
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		br := circuitbreaker.NewBuilder[string]().WithFailureThreshold(5).Build()
		b.ReportAllocs()
		for b.Loop() {
			if !br.TryAcquirePermit() {
				b.Fatal("refused")
			}
			br.RecordSuccess()
		}
	})
}

// The same through each library's call wrapper: rebound's breaker.Do, gobreaker's Execute,
// failsafe-go's executor.

func BenchmarkBreakerExecute(b *testing.B) {
	ctx := context.Background()
	b.Run("rebound", func(b *testing.B) {
		br, _ := breaker.New(breaker.Settings{Name: "dep"})
		op := func(context.Context) (string, error) { return "ok", nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := breaker.Do(ctx, br, op); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gobreaker", func(b *testing.B) {
		br := gobreaker.NewCircuitBreaker[string](gobreaker.Settings{
			Name:        "dep",
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		})
		op := func() (string, error) { return "ok", nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := br.Execute(op); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		br := circuitbreaker.NewBuilder[string]().WithFailureThreshold(5).Build()
		ex := failsafe.With[string](br)
		op := func() (string, error) { return "ok", nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ex.Get(op); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Looking up the breaker of an existing key among 100. Neither peer has a keyed set of
// breakers; the peer rows are what a user of them writes: a sync.Map of breakers (unbounded,
// never evicted).

func BenchmarkSetGet(b *testing.B) {
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("anthropic/model-%d", i)
	}
	key := keys[42]
	b.Run("rebound", func(b *testing.B) {
		s, _ := breaker.NewSet(breaker.SetConfig{})
		for _, k := range keys {
			s.Get(k)
		}
		b.ReportAllocs()
		for b.Loop() {
			if s.Get(key) == nil {
				b.Fatal("nil")
			}
		}
	})
	b.Run("gobreaker+sync.Map", func(b *testing.B) {
		var m sync.Map
		get := func(k string) *gobreaker.CircuitBreaker[string] {
			if v, ok := m.Load(k); ok {
				return v.(*gobreaker.CircuitBreaker[string])
			}
			v, _ := m.LoadOrStore(k, gobreaker.NewCircuitBreaker[string](gobreaker.Settings{Name: k}))
			return v.(*gobreaker.CircuitBreaker[string])
		}
		for _, k := range keys {
			get(k)
		}
		b.ReportAllocs()
		for b.Loop() {
			if get(key) == nil {
				b.Fatal("nil")
			}
		}
	})
	b.Run("failsafe+sync.Map", func(b *testing.B) {
		var m sync.Map
		get := func(k string) circuitbreaker.CircuitBreaker[string] {
			if v, ok := m.Load(k); ok {
				return v.(circuitbreaker.CircuitBreaker[string])
			}
			v, _ := m.LoadOrStore(k, circuitbreaker.NewBuilder[string]().WithFailureThreshold(5).Build())
			return v.(circuitbreaker.CircuitBreaker[string])
		}
		for _, k := range keys {
			get(k)
		}
		b.ReportAllocs()
		for b.Loop() {
			if get(key) == nil {
				b.Fatal("nil")
			}
		}
	})
}
