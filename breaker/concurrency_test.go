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

// TestConcurrentHammer hammers one breaker from many goroutines with a mix of outcomes while it
// opens, probes and closes over and over, with callbacks that call back into the breaker: run it
// with -race; a lock held across a callback deadlocks it. (Which admitted call was a probe cannot
// be told from outside under such churn; TestConcurrentHalfOpenExact checks the probe limit.)
func TestConcurrentHammer(t *testing.T) {
	var b *breaker.Breaker
	var changes atomic.Int64
	b = mustNew(t, breaker.Settings{
		ConsecutiveFailures: 3, OpenFor: time.Microsecond, MaxOpen: 10 * time.Microsecond,
		MaxProbes: 2, WindowSize: 16, MinCalls: 8,
		OnStateChange: func(string, breaker.State, breaker.State) {
			changes.Add(1)
			_ = b.State()
		},
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 3000 {
				p, err := b.Allow()
				if err != nil {
					continue
				}
				var out error
				switch r.IntN(4) {
				case 0:
					out = errTransient
				case 1:
					out = context.Canceled
				}
				p.Done(out)
			}
		})
	}
	wg.Wait()
	if changes.Load() == 0 {
		t.Fatal("the breaker never changed state: the test exercised nothing")
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
