package peers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"

	"github.com/rebound-go/rebound"
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

// Mixed outcomes. Every row above records only successes, Rebound's fastest path. Here:
//
//   - Mixed: 1 call in 10 fails (a 503), the other nine succeed: the breaker stays closed (no 5
//     failures in a row) but every failure and the success after it change its counts.
//   - Cycle: 5 failures open the breaker, whose open time (1 ns) has passed by the next call, so
//     the next call is the half-open probe; it succeeds and closes the breaker (each library set
//     to close after 1 successful probe), and four more successes follow: 10 calls, one
//     open-probe-close cycle. A call the breaker refuses is counted, not failed.

var errMixed = rebound.HTTPError(503, nil, time.Time{})

func BenchmarkBreakerMixed(b *testing.B) {
	mixed(b, false)
}

func BenchmarkBreakerCycle(b *testing.B) {
	mixed(b, true)
}

// fails says whether call i of a run of 10 fails: the first of ten (Mixed), the first five
// (Cycle).
func fails(cycle bool, i int) bool {
	if cycle {
		return i%10 < 5
	}
	return i%10 == 0
}

func mixed(b *testing.B, cycle bool) {
	b.Run("rebound", func(b *testing.B) {
		br, err := breaker.New(breaker.Settings{Name: "dep", OpenFor: time.Nanosecond, Jitter: -1, SuccessesToClose: 1})
		if err != nil {
			b.Fatal(err)
		}
		refused, i := 0, 0
		b.ReportAllocs()
		for b.Loop() {
			p, err := br.Allow()
			if err != nil {
				refused++
			} else if fails(cycle, i) {
				p.Done(errMixed)
			} else {
				p.Done(nil)
			}
			i++
		}
		b.ReportMetric(float64(refused)/float64(i), "refused/op")
	})
	b.Run("gobreaker", func(b *testing.B) {
		br := gobreaker.NewTwoStepCircuitBreaker[string](gobreaker.Settings{
			Name:        "dep",
			Timeout:     time.Nanosecond,
			MaxRequests: 1,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		})
		refused, i := 0, 0
		b.ReportAllocs()
		for b.Loop() {
			done, err := br.Allow()
			if err != nil {
				refused++
			} else if fails(cycle, i) {
				done(errMixed)
			} else {
				done(nil)
			}
			i++
		}
		b.ReportMetric(float64(refused)/float64(i), "refused/op")
	})
	b.Run("failsafe", func(b *testing.B) {
		br := circuitbreaker.NewBuilder[string]().WithFailureThreshold(5).WithDelay(time.Nanosecond).WithSuccessThreshold(1).Build()
		refused, i := 0, 0
		b.ReportAllocs()
		for b.Loop() {
			if !br.TryAcquirePermit() {
				refused++
			} else if fails(cycle, i) {
				br.RecordError(errMixed)
			} else {
				br.RecordSuccess()
			}
			i++
		}
		b.ReportMetric(float64(refused)/float64(i), "refused/op")
	})
}

// TestCycle checks that BenchmarkBreakerCycle's pattern opens and closes each library's
// breaker: not closed after the 5 failures, closed after the probe's success.
func TestCycle(t *testing.T) {
	rb, _ := breaker.New(breaker.Settings{Name: "dep", OpenFor: time.Nanosecond, Jitter: -1, SuccessesToClose: 1})
	gb := gobreaker.NewTwoStepCircuitBreaker[string](gobreaker.Settings{
		Name: "dep", Timeout: time.Nanosecond, MaxRequests: 1,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
	})
	fb := circuitbreaker.NewBuilder[string]().WithFailureThreshold(5).WithDelay(time.Nanosecond).WithSuccessThreshold(1).Build()
	for i := range 6 {
		if i == 5 {
			if rb.State() == breaker.Closed || gb.State() == gobreaker.StateClosed || fb.IsClosed() {
				t.Fatalf("after 5 failures: rebound %v, gobreaker %v, failsafe closed %v; want none closed", rb.State(), gb.State(), fb.IsClosed())
			}
		}
		var err error
		if fails(true, i) {
			err = errMixed
		}
		p, e := rb.Allow()
		if e != nil {
			t.Fatalf("rebound refused call %d: %v", i, e)
		}
		p.Done(err)
		done, e := gb.Allow()
		if e != nil {
			t.Fatalf("gobreaker refused call %d: %v", i, e)
		}
		done(err)
		if !fb.TryAcquirePermit() {
			t.Fatalf("failsafe refused call %d", i)
		}
		if err != nil {
			fb.RecordError(err)
		} else {
			fb.RecordSuccess()
		}
	}
	if rb.State() != breaker.Closed || gb.State() != gobreaker.StateClosed || !fb.IsClosed() {
		t.Fatalf("after the probe's success: rebound %v, gobreaker %v, failsafe closed %v; want all closed", rb.State(), gb.State(), fb.IsClosed())
	}
}
