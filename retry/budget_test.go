package retry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/retry"
)

func TestBudgetLimit(t *testing.T) {
	tests := []struct {
		ratio      float64
		minRetries int
		calls      int64
		want       int64
	}{
		{0, 0, 0, 3},
		{0, 0, 1, 3},
		{0, 0, 19, 3},
		{0, 0, 20, 4},
		{0, 0, 100, 20},
		{0, 0, 1_000_000, 200_000},
		{0, 0, -5, 3},
		{0.5, 1, 9, 4},
		{0, -1, 4, 0},
		{1e300, 0, 2, 1<<63/2 - 1},
	}
	for _, tt := range tests {
		b := &retry.Budget{Ratio: tt.ratio, MinRetries: tt.minRetries}
		if got := b.Limit(tt.calls); got != tt.want {
			t.Errorf("Budget{Ratio %v, MinRetries %d}.Limit(%d) = %d, want %d", tt.ratio, tt.minRetries, tt.calls, got, tt.want)
		}
	}
}

func TestBudgetAcquireRelease(t *testing.T) {
	ctx := context.Background()
	var b retry.Budget
	b.Begin(ctx)
	for i := range 3 {
		if !b.AcquireRetry(ctx) {
			t.Fatalf("retry %d refused with 1 call in flight; at least 3 are allowed", i+1)
		}
	}
	if b.AcquireRetry(ctx) {
		t.Fatal("a 4th concurrent retry was granted with 1 call in flight")
	}
	b.ReleaseRetry(ctx)
	if !b.AcquireRetry(ctx) {
		t.Fatal("a released retry was not granted again")
	}
	for range 99 {
		b.Begin(ctx)
	}
	// 100 calls in flight: up to 20 retries.
	for i := 3; i < 20; i++ {
		if !b.AcquireRetry(ctx) {
			t.Fatalf("retry %d refused with 100 calls in flight", i+1)
		}
	}
	if b.AcquireRetry(ctx) {
		t.Fatal("a 21st retry was granted with 100 calls in flight")
	}
	if calls, retries := b.InFlight(); calls != 100 || retries != 20 {
		t.Fatalf("InFlight = %d, %d; want 100, 20", calls, retries)
	}
}

// TestBudgetConcurrent hammers one Budget from many goroutines (run it under -race) and checks
// that the retries held at any moment never pass the limit.
func TestBudgetConcurrent(t *testing.T) {
	ctx := context.Background()
	var b retry.Budget
	for range 50 {
		b.Begin(ctx) // 50 calls in flight: limit 10
	}
	var held, peak, granted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 2000 {
				if !b.AcquireRetry(ctx) {
					refused.Add(1)
					continue
				}
				granted.Add(1)
				n := held.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				held.Add(-1)
				b.ReleaseRetry(ctx)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 10 {
		t.Fatalf("%d retries held at once, limit 10", p)
	}
	if granted.Load() == 0 {
		t.Fatal("no retry granted")
	}
	if _, retries := b.InFlight(); retries != 0 {
		t.Fatalf("%d retries left in flight", retries)
	}
}

// TestBudgetOutage runs 100 concurrent calls into a dependency that is down: with a shared budget
// at most a fifth of them may retry; the rest give up with BudgetExhausted.
func TestBudgetOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 100
		b := &retry.Budget{}
		p := retry.Policy{Budget: b, MaxAttempts: 3}
		var started sync.WaitGroup
		started.Add(n)
		release := make(chan struct{})
		var attempts, maxRetrying, retrying atomic.Int64
		op := func(ctx context.Context) (string, error) {
			if attempts.Add(1) <= n {
				started.Done()
				<-release // every call is in flight before any fails
			} else {
				r := retrying.Add(1)
				for m := maxRetrying.Load(); r > m && !maxRetrying.CompareAndSwap(m, r); m = maxRetrying.Load() {
				}
				defer retrying.Add(-1)
			}
			return "", status503
		}
		reasons := make(chan rebound.GiveUpReason, n)
		for range n {
			go func() {
				_, err := retry.Do(t.Context(), p, op)
				var gu *rebound.GiveUpError
				if !errors.As(err, &gu) {
					t.Errorf("Do returned %v", err)
					reasons <- ""
					return
				}
				reasons <- gu.Reason
			}()
		}
		started.Wait()
		if calls, _ := b.InFlight(); calls != n {
			t.Fatalf("%d calls in flight, want %d", calls, n)
		}
		close(release)
		count := map[rebound.GiveUpReason]int{}
		for range n {
			count[<-reasons]++
		}
		if count[rebound.BudgetExhausted] < n-n/5 || count[rebound.BudgetExhausted]+count[rebound.Exhausted] != n {
			t.Fatalf("give-up reasons %v: want at least %d refused by the budget, the rest exhausted", count, n-n/5)
		}
		if retries := attempts.Load() - n; retries > 2*n/5 || retries == 0 {
			t.Fatalf("%d retries sent, want between 1 and %d", retries, 2*n/5)
		}
		if m := maxRetrying.Load(); m > n/5 {
			t.Fatalf("%d retries in flight at once, want at most %d", m, n/5)
		}
		if calls, retries := b.InFlight(); calls != 0 || retries != 0 {
			t.Fatalf("budget left with %d calls and %d retries in flight", calls, retries)
		}
	})
}

// TestBudgetPanicGivesBackTheRetry checks that a retried attempt that panics gives back both the
// call and the retry it held: a leaked retry would shrink the shared budget for good.
func TestBudgetPanicGivesBackTheRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &retry.Budget{}
		calls := 0
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the panic was swallowed")
				}
			}()
			_, _ = retry.Do(t.Context(), retry.Policy{Budget: b}, func(context.Context) (string, error) {
				calls++
				if calls == 1 {
					return "", status503
				}
				panic("boom")
			})
		}()
		if calls != 2 {
			t.Fatalf("%d calls, want 2 (the retry panicked)", calls)
		}
		if c, r := b.InFlight(); c != 0 || r != 0 {
			t.Fatalf("after a panicking retry the budget holds %d calls and %d retries, want none", c, r)
		}
	})
}

// FreeRetry's classes are retried without asking the budget, and nothing is given back for
// them.
func TestFreeRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &retry.Budget{MinRetries: -1, Ratio: 0.01}
		p := retry.Policy{Budget: b, FreeRetry: func(c rebound.Class) bool { return c == rebound.ClassRateLimited }}
		n := 0
		_, err := retry.Do(context.Background(), p, func(context.Context) (int, error) {
			n++
			if n < 3 {
				return 0, &rebound.Error{Class: rebound.ClassRateLimited}
			}
			return 1, nil
		})
		if err != nil || n != 3 {
			t.Fatalf("%v after %d attempts", err, n)
		}
		if calls, retries := b.InFlight(); calls != 0 || retries != 0 {
			t.Errorf("in flight after the call: %d calls, %d retries", calls, retries)
		}
		_, err = retry.Do(context.Background(), p, func(context.Context) (int, error) {
			return 0, &rebound.Error{Class: rebound.ClassOverloaded}
		})
		var gu *rebound.GiveUpError
		if !errors.As(err, &gu) || gu.Reason != rebound.BudgetExhausted {
			t.Errorf("overloaded: %v, want the budget to refuse", err)
		}
	})
}
