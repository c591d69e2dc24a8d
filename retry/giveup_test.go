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

// Why a retry loop stops: each give-up reason, the marks that override the class, the caller's
// context against an attempt's own deadline, and the time and attempt limits.

func TestDoNotRetried(t *testing.T) {
	h := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	now := time.Now()
	classed := func(status int, c rebound.Class, typ, code, msg string) *rebound.Error {
		e := rebound.HTTPError(status, http.Header{}, now)
		if c != rebound.ClassUnknown {
			e.Class = c
		}
		e.Type, e.Code, e.Message = typ, code, msg
		return e
	}
	tests := []struct {
		name   string
		err    error
		reason rebound.GiveUpReason
	}{
		{"500 with x-should-retry false", rebound.HTTPError(500, h("x-should-retry", "false"), now), rebound.NotRetriable},
		{"400 invalid_request_error", classed(400, 0, "invalid_request_error", "", "max_tokens: Field required"), rebound.NotRetriable},
		{"401 authentication_error", classed(401, 0, "authentication_error", "", "invalid x-api-key"), rebound.NotRetriable},
		{"403 permission_error", classed(403, 0, "permission_error", "", "Country, region, or territory not supported"), rebound.NotRetriable},
		{"404 not_found_error", classed(404, 0, "not_found_error", "", "model: claude-nope"), rebound.NotRetriable},
		{"429 insufficient_quota", classed(429, rebound.ClassQuota, "insufficient_quota", "insufficient_quota", "You exceeded your current quota, please check your plan and billing details."), rebound.NotRetriable},
		{"400 prompt is too long", classed(400, rebound.ClassContextOverflow, "invalid_request_error", "", "prompt is too long: 200251 tokens > 200000 maximum"), rebound.NotRetriable},
		{"content filter", &rebound.Error{Class: rebound.ClassContentPolicy, Status: 200, Provider: "openai", Message: "finish_reason: content_filter"}, rebound.NotRetriable},
		{"unknown error", errors.New("something odd"), rebound.NotRetriable},
		{"permanent 503", rebound.Permanent(status503), rebound.NotRetriable},
		{"circuit open", rebound.ErrCircuitOpen, rebound.BreakerOpen},
		{"wrapped circuit open", fmt.Errorf("anthropic/claude-x: %w", rebound.ErrCircuitOpen), rebound.BreakerOpen},
		{"transient-marked circuit open", rebound.Transient(rebound.ErrCircuitOpen), rebound.BreakerOpen},
		{"retry-after 120 over a 60s cap", rebound.HTTPError(429, h("retry-after", "120"), now), rebound.HintTooLong},
		{"nested give-up", &rebound.GiveUpError{Reason: rebound.Exhausted, Attempts: 5, Last: status503}, rebound.NotRetriable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls int
				rec := &recorder{}
				start := time.Now()
				_, err := retry.Do(t.Context(), retry.Policy{Hook: rec.hook}, failing(&calls, tt.err, nil))
				gu := giveUp(t, err)
				if gu.Reason != tt.reason || gu.Attempts != 1 || calls != 1 {
					t.Fatalf("reason %s after %d attempts (%d calls), want %s after 1", gu.Reason, gu.Attempts, calls, tt.reason)
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("give-up %v does not wrap %v", err, tt.err)
				}
				if time.Since(start) != 0 {
					t.Fatalf("waited %v before giving up", time.Since(start))
				}
				last := rec.events[len(rec.events)-1]
				if last.Kind != rebound.GaveUp || last.Reason != string(tt.reason) || last.Attempt != 1 {
					t.Fatalf("last event %+v, want gave_up %s", last, tt.reason)
				}
				if tt.reason == rebound.HintTooLong && gu.Delay != 120*time.Second {
					t.Fatalf("HintTooLong give-up carries delay %v, want 120s", gu.Delay)
				}
			})
		})
	}
}

func TestDoMarksWinOverRetryOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		onlyRateLimits := retry.Policy{RetryOn: func(c rebound.Class) bool { return c == rebound.ClassRateLimited }}
		var calls int
		_, err := retry.Do(t.Context(), onlyRateLimits, failing(&calls, status503))
		if gu := giveUp(t, err); gu.Reason != rebound.NotRetriable || calls != 1 {
			t.Fatalf("503 under a rate-limit-only policy: %s after %d calls", gu.Reason, calls)
		}
		calls = 0
		if _, err := retry.Do(t.Context(), onlyRateLimits, failing(&calls, rebound.Transient(status503), nil)); err != nil || calls != 2 {
			t.Fatalf("a Transient mark is retried whatever RetryOn says: %v after %d calls", err, calls)
		}
		calls = 0
		h := http.Header{}
		h.Set("x-should-retry", "true")
		if _, err := retry.Do(t.Context(), retry.Policy{}, failing(&calls, rebound.HTTPError(400, h, time.Now()), nil)); err != nil || calls != 2 {
			t.Fatalf("x-should-retry: true on a 400 is retried: %v after %d calls", err, calls)
		}
		calls = 0
		always := retry.Policy{RetryOn: func(rebound.Class) bool { return true }}
		_, err = retry.Do(t.Context(), always, failing(&calls, rebound.Permanent(errors.New("no"))))
		if gu := giveUp(t, err); gu.Reason != rebound.NotRetriable || calls != 1 {
			t.Fatalf("Permanent under an always-retry policy: %s after %d calls", gu.Reason, calls)
		}
		calls = 0
		if _, err := retry.Do(t.Context(), retry.Policy{}, failing(&calls, rebound.Transient(errors.New("flaky")), nil)); err != nil || calls != 2 {
			t.Fatalf("Transient(unknown) is retried: %v after %d calls", err, calls)
		}
	})
}

type flakyError struct{}

func (flakyError) Error() string { return "flaky" }

func TestDoCustomClassifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.Policy{Classify: func(err error) (rebound.Class, time.Duration) {
			if errors.As(err, new(flakyError)) {
				return rebound.ClassTransient, 5 * time.Second
			}
			return rebound.Classify(err)
		}, HintSpread: -1}
		var calls int
		start := time.Now()
		if _, err := retry.Do(t.Context(), p, failing(&calls, flakyError{}, nil)); err != nil || calls != 2 || time.Since(start) != 5*time.Second {
			t.Fatalf("got %v after %d calls and %v; want success after the classifier's 5s", err, calls, time.Since(start))
		}
	})
}

func TestDoCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(1500*time.Millisecond, cancel)
		rec := &recorder{}
		var calls int
		start := time.Now()
		_, err := retry.Do(ctx, retry.Policy{Jitter: retry.JitterNone, Hook: rec.hook}, failing(&calls, status503))
		gu := giveUp(t, err)
		if gu.Reason != rebound.ContextEnded || gu.Cause != context.Canceled || !errors.Is(err, context.Canceled) || !errors.Is(err, status503) {
			t.Fatalf("got %v (reason %s, cause %v); want context_ended wrapping context.Canceled and the 503", err, gu.Reason, gu.Cause)
		}
		// Waits of 1 s then 2 s: cancelled 0.5 s into the second wait, returned at once.
		if got := time.Since(start); got != 1500*time.Millisecond || calls != 2 || gu.Attempts != 2 {
			t.Fatalf("returned after %v and %d calls (attempts %d), want 1.5s and 2", got, calls, gu.Attempts)
		}
		if c, _ := rebound.Classify(err); c != rebound.ClassCanceled {
			t.Fatalf("give-up classified %v, want canceled", c)
		}
		if last := rec.events[len(rec.events)-1]; last.Kind != rebound.GaveUp || last.Class != rebound.ClassCanceled {
			t.Fatalf("last event %+v, want gave_up canceled", last)
		}
	})
}

func TestDoCallerDeadlineVersusAttemptDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The attempt's own deadline: retried as a timeout.
		var calls int
		op := func(ctx context.Context) (string, error) {
			calls++
			if calls < 3 {
				actx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				<-actx.Done()
				return "", fmt.Errorf("call model: %w", actx.Err())
			}
			return "ok", nil
		}
		rec := &recorder{}
		if v, err := retry.Do(t.Context(), retry.Policy{Hook: rec.hook}, op); err != nil || v != "ok" || calls != 3 {
			t.Fatalf("attempt deadlines: got %q, %v after %d calls", v, err, calls)
		}
		if rec.events[0].Class != rebound.ClassTimeout {
			t.Fatalf("attempt deadline classified %v, want timeout", rec.events[0].Class)
		}

		// The caller's deadline: stop.
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		calls = 0
		_, err := retry.Do(ctx, retry.Policy{}, func(ctx context.Context) (string, error) {
			calls++
			<-ctx.Done()
			return "", ctx.Err()
		})
		gu := giveUp(t, err)
		if gu.Reason != rebound.ContextEnded || calls != 1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("caller deadline: reason %s after %d calls, err %v", gu.Reason, calls, err)
		}
	})
}

func TestDoMaxElapsedCountsFailingTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		op := func(ctx context.Context) (string, error) {
			calls++
			if calls == 1 {
				time.Sleep(10 * time.Second) // a slow first call does not use up MaxElapsed
			}
			return "", status503
		}
		p := retry.Policy{Jitter: retry.JitterNone, MaxElapsed: 3 * time.Second, MaxAttempts: -1}
		start := time.Now()
		_, err := retry.Do(t.Context(), p, op)
		gu := giveUp(t, err)
		// Fails at 10 s; waits 1 s (elapsed 1 s), 2 s (elapsed 3 s); the next 4 s wait would pass 3 s.
		if gu.Reason != rebound.ElapsedExceeded || gu.Attempts != 3 || gu.Delay != 4*time.Second {
			t.Fatalf("reason %s after %d attempts, delay %v; want elapsed_exceeded after 3 refusing 4s", gu.Reason, gu.Attempts, gu.Delay)
		}
		if got := time.Since(start); got != 13*time.Second {
			t.Fatalf("gave up after %v, want 13s", got)
		}
	})
}

func TestDoAttemptLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		_, err := retry.Do(t.Context(), retry.Policy{MaxAttempts: 1}, failing(&calls, status503))
		if gu := giveUp(t, err); gu.Reason != rebound.Exhausted || calls != 1 {
			t.Fatalf("MaxAttempts 1: %s after %d calls", gu.Reason, calls)
		}
		calls = 0
		errs := make([]error, 40)
		for i := range errs[:39] {
			errs[i] = status503
		}
		p := retry.Policy{MaxAttempts: -1, Base: time.Millisecond, Cap: 10 * time.Millisecond}
		if _, err := retry.Do(t.Context(), p, failing(&calls, errs...)); err != nil || calls != 40 {
			t.Fatalf("unlimited attempts: %v after %d calls, want success on the 40th", err, calls)
		}
	})
}
