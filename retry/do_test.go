package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/retry"
)

// recorder keeps the events a Policy's hook receives.
type recorder struct{ events []rebound.Event }

func (r *recorder) hook(_ context.Context, e rebound.Event) { r.events = append(r.events, e) }

func (r *recorder) kinds() []rebound.EventKind {
	var ks []rebound.EventKind
	for _, e := range r.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (r *recorder) delays() []time.Duration {
	var ds []time.Duration
	for _, e := range r.events {
		if e.Kind == rebound.RetryScheduled {
			ds = append(ds, e.Delay)
		}
	}
	return ds
}

// failing returns an op that fails with errs[i] on call i (the last error repeats), then counts.
func failing(calls *int, errs ...error) rebound.Op[string] {
	return func(context.Context) (string, error) {
		i := *calls
		*calls++
		if len(errs) == 0 {
			return "ok", nil
		}
		if i >= len(errs) {
			i = len(errs) - 1
		}
		if errs[i] == nil {
			return "ok", nil
		}
		return "", errs[i]
	}
}

func giveUp(t *testing.T, err error) *rebound.GiveUpError {
	t.Helper()
	var gu *rebound.GiveUpError
	if !errors.As(err, &gu) {
		t.Fatalf("error %v (%T) is not a *rebound.GiveUpError", err, err)
	}
	if !errors.Is(err, rebound.ErrGaveUp) {
		t.Fatalf("errors.Is(%v, ErrGaveUp) = false", err)
	}
	return gu
}

var status503 = rebound.HTTPError(503, http.Header{}, time.Time{})

func TestDoSucceedsFirstTime(t *testing.T) {
	var calls int
	rec := &recorder{}
	v, err := retry.Do(context.Background(), retry.Policy{Hook: rec.hook}, failing(&calls))
	if err != nil || v != "ok" || calls != 1 || len(rec.events) != 0 {
		t.Fatalf("got %q, %v after %d calls and events %v", v, err, calls, rec.kinds())
	}
}

func TestDoZeroPolicyDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		rec := &recorder{}
		start := time.Now()
		_, err := retry.Do(t.Context(), retry.Policy{Hook: rec.hook, Name: "dep", Rand: func() float64 { return 0.999999 }}, failing(&calls, status503))
		gu := giveUp(t, err)
		if gu.Reason != rebound.Exhausted || gu.Attempts != 5 || calls != 5 {
			t.Fatalf("reason %s, attempts %d, calls %d; want exhausted after 5", gu.Reason, gu.Attempts, calls)
		}
		if !errors.Is(err, status503) {
			t.Fatalf("give-up error does not wrap the last failure: %v", err)
		}
		// Full jitter with r near 1: just under 1 s, 2 s, 4 s, 8 s.
		ds := rec.delays()
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
		if len(ds) != len(want) {
			t.Fatalf("delays %v, want 4", ds)
		}
		var total time.Duration
		for i, d := range ds {
			if d > want[i] || d < want[i]*99/100 {
				t.Errorf("delay %d = %v, want just under %v", i, d, want[i])
			}
			total += d
		}
		if got := time.Since(start); got != total {
			t.Errorf("waited %v, want the sum of the delays %v", got, total)
		}
		for _, e := range rec.events {
			if e.Model != "dep" || e.Class != rebound.ClassTransient || e.Err == nil {
				t.Errorf("event %+v: want Model dep, Class transient and Err", e)
			}
		}
		wantKinds := fmt.Sprint([]rebound.EventKind{
			rebound.AttemptFailed, rebound.RetryScheduled, rebound.AttemptFailed, rebound.RetryScheduled,
			rebound.AttemptFailed, rebound.RetryScheduled, rebound.AttemptFailed, rebound.RetryScheduled,
			rebound.AttemptFailed, rebound.GaveUp,
		})
		if got := fmt.Sprint(rec.kinds()); got != wantKinds {
			t.Errorf("events %s, want %s", got, wantKinds)
		}
	})
}

// TestDoJitterKinds checks, for each kind of jitter, the attempt count and that every wait is in
// the kind's range.
func TestDoJitterKinds(t *testing.T) {
	for _, kind := range []retry.Jitter{retry.JitterFull, retry.JitterEqual, retry.JitterDecorrelated, retry.JitterProportional, retry.JitterNone} {
		t.Run(kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := retry.Policy{MaxAttempts: 7, Base: 100 * time.Millisecond, Cap: 2 * time.Second, Jitter: kind}
				rec := &recorder{}
				p.Hook = rec.hook
				var calls int
				var starts []time.Time
				op := func(ctx context.Context) (string, error) {
					starts = append(starts, time.Now())
					return failing(&calls, status503)(ctx)
				}
				_, err := retry.Do(t.Context(), p, op)
				if gu := giveUp(t, err); gu.Reason != rebound.Exhausted || gu.Attempts != 7 || calls != 7 {
					t.Fatalf("reason %s after %d attempts, %d calls; want exhausted after 7", gu.Reason, gu.Attempts, calls)
				}
				ds := rec.delays()
				if len(ds) != 6 {
					t.Fatalf("%d waits, want 6", len(ds))
				}
				b := p.Backoff()
				prev := time.Duration(0)
				for i, d := range ds {
					if waited := starts[i+1].Sub(starts[i]); waited != d {
						t.Errorf("wait %d: scheduled %v, waited %v", i, d, waited)
					}
					exp := retry.Exponential(i, b)
					lo, hi := time.Duration(0), exp
					switch kind {
					case retry.JitterEqual:
						lo = exp / 2
					case retry.JitterProportional:
						lo, hi = exp*3/4, min(b.Cap, exp*5/4)
					case retry.JitterNone:
						lo = exp
					case retry.JitterDecorrelated:
						lo, hi = b.Base, min(b.Cap, 3*max(prev, b.Base))
					}
					if d < lo || d > hi {
						t.Errorf("wait %d = %v, outside [%v, %v]", i, d, lo, hi)
					}
					prev = d
				}
			})
		})
	}
}

func TestDoHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A real Anthropic 429 (docs/provider-errors.md §2.1, §2.3): rate_limit_error with retry-after: 2.
		h := http.Header{}
		h.Set("retry-after", "2")
		h.Set("anthropic-ratelimit-requests-remaining", "0")
		h.Set("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG")
		e429 := rebound.HTTPError(429, h, time.Now())
		e429.Type, e429.Provider = "rate_limit_error", "anthropic"
		for range 20 {
			var calls int
			var second time.Time
			start := time.Now()
			op := func(ctx context.Context) (string, error) {
				if calls == 1 {
					second = time.Now()
				}
				return failing(&calls, e429, nil)(ctx)
			}
			if _, err := retry.Do(t.Context(), retry.Policy{}, op); err != nil || calls != 2 {
				t.Fatalf("got %v after %d calls, want success on the second", err, calls)
			}
			waited := second.Sub(start)
			if waited < 2*time.Second || waited > 2*time.Second+200*time.Millisecond {
				t.Fatalf("waited %v after retry-after: 2, want within [2s, 2.2s]", waited)
			}
		}
	})
}

func TestDoRetryAfterMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		start := time.Now()
		_, err := retry.Do(t.Context(), retry.Policy{HintSpread: -1}, failing(&calls, rebound.RetryAfter(3*time.Second, errors.New("busy")), nil))
		if err != nil || calls != 2 || time.Since(start) != 3*time.Second {
			t.Fatalf("got %v after %d calls and %v, want success after exactly 3s", err, calls, time.Since(start))
		}
	})
}

func TestDoFreshPerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{MaxAttempts: 3}
		for run := range 3 {
			var calls int
			_, err := retry.Do(t.Context(), p, failing(&calls, status503))
			if gu := giveUp(t, err); gu.Attempts != 3 || calls != 3 {
				t.Fatalf("run %d: %d attempts, want a fresh 3 each run", run, gu.Attempts)
			}
		}
	})
}

func TestWrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		op := retry.Wrap(retry.Policy{}, failing(&calls, status503, status503, nil))
		if v, err := op(t.Context()); err != nil || v != "ok" || calls != 3 {
			t.Fatalf("got %q, %v after %d calls", v, err, calls)
		}
	})
}

func TestDoEventsReachScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scoped := &recorder{}
		ctx := rebound.WithScope(t.Context(), rebound.Scope{RunID: "run-1", Step: "outline", Hook: scoped.hook})
		var calls int
		if _, err := retry.Do(ctx, retry.Policy{Name: "openai/gpt-x"}, failing(&calls, status503, nil)); err != nil {
			t.Fatal(err)
		}
		if len(scoped.events) != 2 {
			t.Fatalf("scope saw %v, want attempt_failed and retry_scheduled", scoped.kinds())
		}
		for _, e := range scoped.events {
			if e.RunID != "run-1" || e.Step != "outline" || e.Model != "openai/gpt-x" || e.Attempt != 1 || e.Time.IsZero() {
				t.Fatalf("event %+v lacks its scope, model, attempt or time", e)
			}
		}
	})
}
