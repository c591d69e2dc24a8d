package llm_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/retry"
)

var req = llm.Request{Messages: []llm.Message{llm.User("hi")}}

func TestResilientRetriesThenAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.generate = func(ctx context.Context, n int, _ llm.Request) (*llm.Response, error) {
			if n < 3 {
				return nil, classErr(rebound.ClassOverloaded)
			}
			return answer(m, "ok"), nil
		}
		var ev llmtest.Events
		r := mustResilient(t, m, llm.Config{Hook: ev.Emit})
		resp, err := r.Generate(context.Background(), req)
		if err != nil || resp.Text != "ok" {
			t.Fatalf("%v %v", resp, err)
		}
		if m.Calls() != 3 {
			t.Errorf("%d calls, want 3", m.Calls())
		}
		failed := ev.Of(rebound.AttemptFailed)
		if len(failed) != 2 || failed[0].Model != "anthropic/a" || failed[0].Class != rebound.ClassOverloaded {
			t.Errorf("attempt_failed events %+v", failed)
		}
	})
}

// Quota, auth, invalid, context_overflow and content_policy are given up at once: no backoff.
func TestResilientGivesUpAtOnce(t *testing.T) {
	for _, c := range []rebound.Class{rebound.ClassQuota, rebound.ClassAuth, rebound.ClassInvalid, rebound.ClassContextOverflow, rebound.ClassContentPolicy} {
		synctest.Test(t, func(t *testing.T) {
			m := &model{name: "anthropic/a"}
			m.generate = func(context.Context, int, llm.Request) (*llm.Response, error) { return nil, classErr(c) }
			start := time.Now()
			_, err := mustResilient(t, m, llm.Config{}).Generate(context.Background(), req)
			var gu *rebound.GiveUpError
			if !errors.As(err, &gu) || gu.Reason != rebound.NotRetriable {
				t.Fatalf("%v: err %v", c, err)
			}
			if got, _ := rebound.Classify(err); got != c {
				t.Errorf("class %v, want %v", got, c)
			}
			if m.Calls() != 1 || time.Since(start) != 0 {
				t.Errorf("%v: %d calls in %v, want 1 at once", c, m.Calls(), time.Since(start))
			}
		})
	}
}

func TestResilientAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "openai/a"}
		m.generate = func(ctx context.Context, n int, _ llm.Request) (*llm.Response, error) {
			if n == 1 {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return answer(m, "ok"), nil
		}
		var ev llmtest.Events
		r := mustResilient(t, m, llm.Config{AttemptTimeout: 10 * time.Second, Hook: ev.Emit})
		resp, err := r.Generate(context.Background(), req)
		if err != nil || resp.Text != "ok" {
			t.Fatalf("%v %v", resp, err)
		}
		if f := ev.Of(rebound.AttemptFailed); len(f) != 1 || f[0].Class != rebound.ClassTimeout {
			t.Errorf("events %+v", f)
		}
	})
}

func TestResilientBreakerOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.generate = func(context.Context, int, llm.Request) (*llm.Response, error) {
			return nil, classErr(rebound.ClassOverloaded)
		}
		set, err := breaker.NewSet(breaker.SetConfig{})
		if err != nil {
			t.Fatal(err)
		}
		var ev llmtest.Events
		r := mustResilient(t, m, llm.Config{Breakers: set, Hook: ev.Emit, Retry: retry.Policy{MaxAttempts: 8}})
		_, err = r.Generate(context.Background(), req) // the 5th failure opens the breaker
		if m.Calls() != 5 {
			t.Fatalf("%d calls", m.Calls())
		}
		// Retry stops the moment the breaker opens: no wait for a backoff that would end at the
		// open breaker, and the failure keeps its class.
		var gu *rebound.GiveUpError
		if !errors.As(err, &gu) || gu.Reason != rebound.BreakerOpen || gu.Attempts != 5 {
			t.Fatalf("after the opening failure: %v", err)
		}
		if c, _ := rebound.Classify(err); c != rebound.ClassOverloaded {
			t.Errorf("class %v, want overloaded", c)
		}
		if n := len(ev.Of(rebound.RetryScheduled)); n != 4 {
			t.Errorf("%d retries scheduled, want 4 (none after the breaker opened)", n)
		}
		start := time.Now()
		_, err = r.Generate(context.Background(), req)
		if !errors.Is(err, rebound.ErrCircuitOpen) || m.Calls() != 5 || time.Since(start) != 0 {
			t.Fatalf("while open: err %v, %d calls, %v", err, m.Calls(), time.Since(start))
		}
		if set.Get("anthropic/a") != r.Breaker() {
			t.Error("breaker not from the shared set")
		}
	})
}

func TestResilientHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.generate = func(context.Context, int, llm.Request) (*llm.Response, error) {
			if m.Calls() == 1 {
				return nil, &rebound.Error{Class: rebound.ClassRateLimited, Status: 429, RetryAfter: 7 * time.Second}
			}
			return answer(m, "ok"), nil
		}
		start := time.Now()
		if _, err := mustResilient(t, m, llm.Config{}).Generate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 7*time.Second || d > 8*time.Second {
			t.Errorf("waited %v, want the 7 s asked (with upward jitter)", d)
		}
	})
}

// The limiter paces from the headers of the answers: with the bucket empty, the next call
// waits its turn instead of being sent, and the wait is not a failure.
func TestResilientPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.generate = func(context.Context, int, llm.Request) (*llm.Response, error) {
			resp := answer(m, "ok")
			resp.Header = http.Header{}
			resp.Header.Set("anthropic-ratelimit-requests-limit", "10")
			resp.Header.Set("anthropic-ratelimit-requests-remaining", "0")
			resp.Header.Set("anthropic-ratelimit-requests-reset", time.Now().Add(10*time.Second).UTC().Format(time.RFC3339))
			return resp, nil
		}
		var ev llmtest.Events
		r := mustResilient(t, m, llm.Config{Hook: ev.Emit})
		if _, err := r.Generate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := r.Generate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) == 0 {
			t.Error("second call not paced")
		}
		if len(ev.Of(rebound.AttemptFailed)) != 0 {
			t.Error("a pacing wait counted as a failure")
		}
		// A call whose deadline comes before its turn gives up at once, without being sent.
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		calls := m.Calls()
		_, err := r.Generate(ctx, req)
		if err == nil || m.Calls() != calls {
			t.Errorf("err %v, calls %d -> %d", err, calls, m.Calls())
		}
	})
}

func TestResilientStreamTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.stream = func(ctx context.Context, n int, _ llm.Request, on func(llm.Delta)) (*llm.Response, error) {
			switch n {
			case 1: // no first token
				<-ctx.Done()
				return nil, ctx.Err()
			case 2: // two deltas, then silence
				on(llm.Delta{Text: "partial "})
				on(llm.Delta{Text: "answer"})
				<-ctx.Done()
				return nil, ctx.Err()
			}
			on(llm.Delta{Text: "whole answer"})
			return answer(m, "whole answer"), nil
		}
		var ev llmtest.Events
		r := mustResilient(t, m, llm.Config{FirstTokenTimeout: 5 * time.Second, IdleTimeout: 2 * time.Second, Hook: ev.Emit})
		var got []string
		resp, err := r.Stream(context.Background(), req, func(d llm.Delta) {
			if d.Restart {
				got = nil
				return
			}
			got = append(got, d.Text)
		})
		if err != nil || resp.Text != "whole answer" {
			t.Fatalf("%v %v", resp, err)
		}
		if strings.Join(got, "") != "whole answer" {
			t.Errorf("deltas after restarts: %q", got)
		}
		f := ev.Of(rebound.AttemptFailed)
		if len(f) != 2 || f[0].Class != rebound.ClassTimeout || f[1].Class != rebound.ClassTimeout {
			t.Fatalf("attempt_failed %+v", f)
		}
		if !strings.Contains(f[0].Err.Error(), "first token") || !strings.Contains(f[1].Err.Error(), "idle") {
			t.Errorf("errors %v / %v", f[0].Err, f[1].Err)
		}
	})
}

// A stream that fails for good returns no Response: the partial output is never passed off as
// an answer.
func TestResilientStreamFailureDiscardsPartial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.stream = func(ctx context.Context, _ int, _ llm.Request, on func(llm.Delta)) (*llm.Response, error) {
			on(llm.Delta{Text: "half"})
			return nil, classErr(rebound.ClassMalformed)
		}
		resp, err := mustResilient(t, m, llm.Config{Retry: retryTwice}).Stream(context.Background(), req, nil)
		if resp != nil || err == nil {
			t.Fatalf("%v %v", resp, err)
		}
	})
}

func TestResilientCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.generate = func(ctx context.Context, _ int, _ llm.Request) (*llm.Response, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r := mustResilient(t, m, llm.Config{})
		_, err := r.Generate(ctx, req)
		if c, _ := rebound.Classify(err); c != rebound.ClassCanceled {
			t.Errorf("class %v (%v)", c, err)
		}
		if r.Breaker().State() != breaker.Closed {
			t.Errorf("breaker %v after a cancel", r.Breaker().State())
		}
	})
}

// A busy rate limit never exhausts the retry budget: retries after a 429 do not draw on it,
// while retries of an overload do.
func TestResilientRateLimitedRetriesAreFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		none := &retry.Budget{MinRetries: -1} // no retry at all may draw on it
		m := &model{name: "anthropic/a"}
		m.generate = func(_ context.Context, n int, _ llm.Request) (*llm.Response, error) {
			if n < 4 {
				return nil, &rebound.Error{Class: rebound.ClassRateLimited, Status: 429, RetryAfter: time.Second}
			}
			return answer(m, "ok"), nil
		}
		if _, err := mustResilient(t, m, llm.Config{Retry: retry.Policy{Budget: none}}).Generate(context.Background(), req); err != nil {
			t.Fatalf("rate limited: %v", err)
		}
		o := failing("anthropic/b", 1, rebound.ClassOverloaded)
		_, err := mustResilient(t, o, llm.Config{Retry: retry.Policy{Budget: none}}).Generate(context.Background(), req)
		var gu *rebound.GiveUpError
		if !errors.As(err, &gu) || gu.Reason != rebound.BudgetExhausted || o.Calls() != 1 {
			t.Fatalf("overloaded: %v after %d calls, want budget_exhausted after 1", err, o.Calls())
		}
		if calls, retries := none.InFlight(); calls != 0 || retries != 0 {
			t.Errorf("budget left with %d calls, %d retries in flight", calls, retries)
		}
	})
}

// A PaceFunc (a fleet's limiter) replaces the process's own: asked once per attempt, told of
// every response.
func TestResilientPaceFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.generate = func(_ context.Context, n int, _ llm.Request) (*llm.Response, error) {
			if n == 1 {
				return nil, llm.WithResponseHeader(&rebound.Error{Class: rebound.ClassOverloaded, Status: 529}, http.Header{"Request-Id": {"r1"}})
			}
			return answer(m, "ok"), nil
		}
		var asked []int
		var reported []int
		pace := func(_ context.Context, key string, tokens int) (func(http.Header, int), error) {
			if key != "anthropic/a" {
				t.Errorf("paced under key %q, want the model's name", key)
			}
			asked = append(asked, tokens)
			return func(h http.Header, status int) { reported = append(reported, status) }, nil
		}
		if _, err := mustResilient(t, m, llm.Config{Pace: pace}).Generate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if len(asked) != 2 || asked[0] != req.EstimatedTokens() || len(reported) != 2 || reported[0] != 529 || reported[1] != 200 {
			t.Errorf("asked %v, reported %v", asked, reported)
		}
	})
}

// The idle timeout measures the provider's silence, not the time the caller's onDelta takes: a
// consumer slower than IdleTimeout does not fail a stream whose deltas keep coming.
func TestResilientIdleIgnoresSlowConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &model{name: "anthropic/a"}
		m.stream = func(ctx context.Context, _ int, _ llm.Request, on func(llm.Delta)) (*llm.Response, error) {
			for _, s := range []string{"one ", "two ", "three"} {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
				on(llm.Delta{Text: s})
			}
			return answer(m, "one two three"), nil
		}
		r := mustResilient(t, m, llm.Config{Retry: retry.Policy{MaxAttempts: 1}, IdleTimeout: time.Second})
		resp, err := r.Stream(context.Background(), req, func(llm.Delta) { time.Sleep(3 * time.Second) })
		if err != nil || resp.Text != "one two three" {
			t.Fatalf("%v %v", resp, err)
		}
	})
}

func mustResilient(t testing.TB, m llm.Model, c llm.Config) *llm.ResilientModel {
	t.Helper()
	r, err := llm.Resilient(m, c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Bad settings are Resilient's error, never a panic.
func TestResilientRejectsBadSettings(t *testing.T) {
	m := answering("anthropic/a", 1)
	for _, c := range []llm.Config{
		{Breaker: breaker.Settings{FailureRate: 2}},
		{Retry: retry.Policy{Factor: 0.5}},
	} {
		if r, err := llm.Resilient(m, c); err == nil || r != nil || !strings.Contains(err.Error(), "anthropic/a") {
			t.Errorf("Resilient(%+v) = %v, %v; want an error naming the model", c, r, err)
		}
	}
}
