package pipeline_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
)

func classErr(c rebound.Class) error { return &rebound.Error{Class: c, Message: c.String()} }

func mustNew(t *testing.T, c pipeline.Config) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRetriesThenAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []rebound.Event
		p := mustNew(t, pipeline.Config{Name: "tool/a", Hook: func(_ context.Context, e rebound.Event) {
			events = append(events, e)
		}})
		n := 0
		v, err := pipeline.Do(context.Background(), p, pipeline.Call[string]{}, func(context.Context) (string, error) {
			n++
			if n < 3 {
				return "", classErr(rebound.ClassTransient)
			}
			return "ok", nil
		})
		if v != "ok" || err != nil || n != 3 {
			t.Fatalf("%q %v after %d attempts", v, err, n)
		}
		if len(events) == 0 || events[0].Model != "tool/a" || events[0].Kind != rebound.AttemptFailed {
			t.Errorf("events %+v", events)
		}
	})
}

// The failure that opens the breaker ends the retries at once; the next call is refused
// without running.
func TestStopsWhenBreakerOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, pipeline.Config{Breaker: breaker.Settings{ConsecutiveFailures: 2}})
		n := 0
		op := func(context.Context) (int, error) { n++; return 0, classErr(rebound.ClassOverloaded) }
		start := time.Now()
		_, err := pipeline.Do(context.Background(), p, pipeline.Call[int]{Key: "k"}, op)
		var gu *rebound.GiveUpError
		if !errors.As(err, &gu) || gu.Reason != rebound.BreakerOpen || n != 2 {
			t.Fatalf("err %v after %d attempts", err, n)
		}
		var opened *breaker.OpenedError
		if !errors.As(err, &opened) || opened.Name != "k" {
			t.Errorf("err %v is not the OpenedError of k", err)
		}
		if c, _ := rebound.Classify(err); c != rebound.ClassOverloaded {
			t.Errorf("class %v, want the failure's own", c)
		}
		waited := time.Since(start)
		_, err = pipeline.Do(context.Background(), p, pipeline.Call[int]{Key: "k"}, op)
		var open *breaker.OpenError
		if !errors.As(err, &open) || n != 2 {
			t.Errorf("second call: %v after %d attempts", err, n)
		}
		if time.Since(start) != waited {
			t.Errorf("the refusal waited")
		}
	})
}

// gate is a PaceFunc whose turns are handed out by the test, and which records what each
// attempt reported.
type gate struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
	reports []int
}

func (g *gate) pace(ctx context.Context, key string, _ int) (func(http.Header, int), error) {
	g.mu.Lock()
	ch := g.waiting[key]
	g.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func(_ http.Header, status int) {
		g.mu.Lock()
		g.reports = append(g.reports, status)
		g.mu.Unlock()
	}, nil
}

// Issue 16: the breaker decides when the request is sent, not before it waits. A call admitted
// to the pacing queue while the breaker was closed is not sent once the breaker has opened in
// the meantime, and its pacing turn is given back.
func TestNotSentAfterTheBreakerOpenedWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set, _ := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{ConsecutiveFailures: 1}})
		g := &gate{waiting: map[string]chan struct{}{"slow": make(chan struct{})}}
		p := mustNew(t, pipeline.Config{Name: "model", Breakers: set, Pace: g.pace,
			Retry: retry.Policy{MaxAttempts: 1}})
		var sent atomic.Int32
		// "slow" waits for its turn in the queue while "fast" fails and opens the breaker; both
		// call the same dependency (one breaker key), paced under different pacing keys here
		// only so that the test can hold one back.
		slowBreaker := pipeline.Config{Name: "model", Breakers: set, Pace: func(ctx context.Context, _ string, tok int) (func(http.Header, int), error) {
			return g.pace(ctx, "slow", tok)
		}, Retry: retry.Policy{MaxAttempts: 1}}
		ps := mustNew(t, slowBreaker)
		done := make(chan error)
		go func() {
			_, err := pipeline.Do(context.Background(), ps, pipeline.Call[int]{}, func(context.Context) (int, error) {
				sent.Add(1)
				return 1, nil
			})
			done <- err
		}()
		synctest.Wait() // the slow call waits for its turn, with the breaker closed
		_, err := pipeline.Do(context.Background(), p, pipeline.Call[int]{}, func(context.Context) (int, error) {
			return 0, classErr(rebound.ClassTransient)
		})
		if !errors.Is(err, rebound.ErrCircuitOpen) {
			t.Fatalf("failing call: %v, want the breaker opened", err)
		}
		close(g.waiting["slow"])
		err = <-done
		var open *breaker.OpenError
		if !errors.As(err, &open) {
			t.Fatalf("waiting call: %v, want a refusal", err)
		}
		if sent.Load() != 0 {
			t.Errorf("the call was sent after the breaker opened")
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.reports) != 2 || g.reports[1] != 0 {
			t.Errorf("pacing reports %v: want the refused call's turn given back (status 0)", g.reports)
		}
	})
}

// Issue 16: a half-open probe does not hold the only probe slot while it waits for its pacing
// turn: a call whose turn comes first probes, and closes the breaker.
func TestProbeSlotTakenWhenSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set, _ := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{
			ConsecutiveFailures: 1, OpenFor: time.Second, Jitter: -1, SuccessesToClose: 1,
		}})
		b := set.Get("model")
		pr, _ := b.Allow()
		pr.Done(classErr(rebound.ClassTransient)) // open
		time.Sleep(time.Second)                   // half-open: one probe slot
		hold := make(chan struct{})
		queued := mustNew(t, pipeline.Config{Name: "model", Breakers: set, Retry: retry.Policy{MaxAttempts: 1},
			Pace: func(ctx context.Context, _ string, _ int) (func(http.Header, int), error) {
				<-hold
				return nil, nil
			}})
		prompt := mustNew(t, pipeline.Config{Name: "model", Breakers: set, Retry: retry.Policy{MaxAttempts: 1}})
		done := make(chan error)
		go func() {
			_, err := pipeline.Do(context.Background(), queued, pipeline.Call[int]{}, func(context.Context) (int, error) { return 1, nil })
			done <- err
		}()
		synctest.Wait() // the queued call waits for its turn
		if _, err := pipeline.Do(context.Background(), prompt, pipeline.Call[int]{}, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatalf("the call whose turn came first was refused: %v", err)
		}
		if s := b.State(); s != breaker.Closed {
			t.Errorf("breaker %v after a successful probe, want closed", s)
		}
		close(hold)
		if err := <-done; err != nil {
			t.Errorf("queued call: %v", err)
		}
	})
}

// A call whose breaker is open is refused before it waits for a pacing turn.
func TestOpenBreakerRefusesBeforePacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		paced := 0
		p := mustNew(t, pipeline.Config{Name: "k", Pace: func(context.Context, string, int) (func(http.Header, int), error) {
			paced++
			return nil, nil
		}})
		p.Breakers().Get("k").ForceOpen()
		_, err := pipeline.Do(context.Background(), p, pipeline.Call[int]{}, func(context.Context) (int, error) { return 1, nil })
		if !errors.Is(err, rebound.ErrCircuitOpen) || paced != 0 {
			t.Errorf("err %v, %d pacing waits", err, paced)
		}
	})
}

// Retries after a 429 are paced, not budgeted: with a budget that grants no retry at all, a
// rate-limited call is retried while an overloaded one is given up.
func TestRateLimitedRetriesAreFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget := &retry.Budget{MinRetries: -1, Ratio: 0.01}
		p := mustNew(t, pipeline.Config{Name: "k", Retry: retry.Policy{Budget: budget}})
		for _, c := range []rebound.Class{rebound.ClassRateLimited, rebound.ClassOverloaded} {
			n := 0
			_, err := pipeline.Do(context.Background(), p, pipeline.Call[int]{}, func(context.Context) (int, error) {
				n++
				if n == 1 {
					return 0, classErr(c)
				}
				return 1, nil
			})
			var gu *rebound.GiveUpError
			switch {
			case c == rebound.ClassRateLimited && (err != nil || n != 2):
				t.Errorf("rate limited: %v after %d attempts, want a free retry", err, n)
			case c == rebound.ClassOverloaded && (!errors.As(err, &gu) || gu.Reason != rebound.BudgetExhausted):
				t.Errorf("overloaded: %v, want the budget to refuse", err)
			}
		}
		if calls, retries := budget.InFlight(); calls != 0 || retries != 0 {
			t.Errorf("budget left with %d calls, %d retries in flight", calls, retries)
		}
	})
}

// A pacing turn that cannot come in time: the call is not sent, not retried, class
// rate_limited; the breaker is not told anything.
func TestPacingDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, pipeline.Config{Name: "k", Pace: func(context.Context, string, int) (func(http.Header, int), error) {
			return nil, ratelimit.ErrWouldExceedDeadline
		}})
		n := 0
		_, err := pipeline.Do(context.Background(), p, pipeline.Call[int]{}, func(context.Context) (int, error) { n++; return 1, nil })
		var gu *rebound.GiveUpError
		if !errors.As(err, &gu) || gu.Reason != rebound.NotRetriable || n != 0 {
			t.Fatalf("err %v after %d attempts", err, n)
		}
		if c, _ := rebound.Classify(err); c != rebound.ClassRateLimited || !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
			t.Errorf("class %v, err %v", c, err)
		}
	})
}

// Response feeds the pacer; a result returned with a failing status counts as a failure for
// the breaker.
func TestResponseStatusCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{}
		p := mustNew(t, pipeline.Config{Name: "k", Pace: g.pace, Breaker: breaker.Settings{ConsecutiveFailures: 2}})
		call := pipeline.Call[int]{Response: func(v int, _ error) (http.Header, int) { return nil, v }}
		for range 2 {
			v, err := pipeline.Do(context.Background(), p, call, func(context.Context) (int, error) { return 503, nil })
			if v != 503 || err != nil {
				t.Fatalf("%d %v", v, err)
			}
		}
		if s := p.Breakers().Get("k").State(); s != breaker.Open {
			t.Errorf("breaker %v after two 503s returned as they came, want open", s)
		}
		if len(g.reports) != 2 || g.reports[0] != 503 {
			t.Errorf("pacing reports %v", g.reports)
		}
	})
}

func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, pipeline.Config{Name: "k", AttemptTimeout: time.Second, Retry: retry.Policy{MaxAttempts: 2}})
		n := 0
		_, err := pipeline.Do(context.Background(), p, pipeline.Call[int]{}, func(ctx context.Context) (int, error) {
			n++
			<-ctx.Done()
			return 0, ctx.Err()
		})
		var gu *rebound.GiveUpError
		if !errors.As(err, &gu) || gu.Reason != rebound.Exhausted || n != 2 {
			t.Fatalf("err %v after %d attempts", err, n)
		}
		if c, _ := rebound.Classify(err); c != rebound.ClassTimeout {
			t.Errorf("class %v, want timeout", c)
		}
		// Call.Timeout replaces it.
		start := time.Now()
		pipeline.Do(context.Background(), p, pipeline.Call[int]{Timeout: 5 * time.Second, MaxAttempts: 1}, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Call.Timeout: attempt ran %s, want 5s", d)
		}
	})
}

// A panic in the call counts as a failure for the breaker and gives the pacing turn back.
func TestPanicCounts(t *testing.T) {
	g := &gate{}
	p := mustNew(t, pipeline.Config{Name: "k", Pace: g.pace, Breaker: breaker.Settings{ConsecutiveFailures: 1}})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		pipeline.Do(context.Background(), p, pipeline.Call[int]{}, func(context.Context) (int, error) { panic("boom") })
	}()
	if s := p.Breakers().Get("k").State(); s != breaker.Open {
		t.Errorf("breaker %v after a panic, want open", s)
	}
	if len(g.reports) != 1 || g.reports[0] != 0 {
		t.Errorf("pacing reports %v", g.reports)
	}
}

// Bad settings are New's error, naming the setting.
func TestNewRejectsBadSettings(t *testing.T) {
	for _, c := range []pipeline.Config{
		{Breaker: breaker.Settings{FailureRate: 2}},
		{Retry: retry.Policy{Base: -time.Second}},
		{Retry: retry.Policy{Factor: 0.5}},
		{Retry: retry.Policy{Spread: 3}},
	} {
		if _, err := pipeline.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// A Breaker of one's own (a fleet's) plugs in through BreakerFor and sees every attempt.
func TestBreakerFor(t *testing.T) {
	b, _ := breaker.New(breaker.Settings{Name: "k"})
	fb := &countingBreaker{Breaker: pipeline.Local(b)}
	p := mustNew(t, pipeline.Config{Name: "k", BreakerFor: func(string) pipeline.Breaker { return fb }, Retry: retry.Policy{MaxAttempts: 2, Base: time.Nanosecond}})
	n := 0
	pipeline.Do(context.Background(), p, pipeline.Call[int]{}, func(context.Context) (int, error) {
		n++
		if n == 1 {
			return 0, classErr(rebound.ClassTransient)
		}
		return 1, nil
	})
	if fb.checks != 2 || fb.allows != 2 || fb.dones != 2 {
		t.Errorf("checks %d, allows %d, dones %d; want 2 each", fb.checks, fb.allows, fb.dones)
	}
}

type countingBreaker struct {
	pipeline.Breaker
	checks, allows, dones int
}

func (c *countingBreaker) Check(ctx context.Context) error { c.checks++; return c.Breaker.Check(ctx) }
func (c *countingBreaker) Allow(ctx context.Context) (breaker.Permit, error) {
	c.allows++
	return c.Breaker.Allow(ctx)
}
func (c *countingBreaker) Done(ctx context.Context, p breaker.Permit, err error) error {
	c.dones++
	return c.Breaker.Done(ctx, p, err)
}

// Config.Limiter paces each key under the limiter it returns (nil: not paced), once per
// attempt.
func TestLimiterPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := ratelimit.New(ratelimit.Config{Name: "a"})
		p := mustNew(t, pipeline.Config{Retry: retry.Policy{Base: time.Millisecond}, Limiter: func(key string) *ratelimit.Limiter {
			if key == "a" {
				return lim
			}
			return nil
		}})
		for _, key := range []string{"a", "b"} {
			n := 0
			_, err := pipeline.Do(context.Background(), p, pipeline.Call[int]{Key: key}, func(context.Context) (int, error) {
				n++
				if n == 1 {
					return 0, classErr(rebound.ClassTransient)
				}
				return 1, nil
			})
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
		}
		if s := lim.Stats(); s.Admitted != 2 {
			t.Errorf("limiter admitted %d attempts, want the 2 of key a", s.Admitted)
		}
	})
}
