package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"
)

// The rules of Fallback through the real SDKs against fakellm: Anthropic is the primary, then
// two OpenAI models with a small and a large context window. Each model is wrapped in Resilient
// with a backoff long enough that a retry would show as a retry_scheduled event.
func TestFallbackRulesThroughSDKs(t *testing.T) {
	slow := retry.Policy{MaxAttempts: 3, Base: time.Second, Cap: 2 * time.Second}
	tests := []struct {
		name    string
		script  string
		cfg     llm.FallbackConfig
		answer  string // model that answers; "" for an error
		class   rebound.Class
		primary int64 // requests the primary gets
	}{
		{"quota moves on at once", "quota provider=anthropic", llm.FallbackConfig{}, "openai/gpt-4o-mini", rebound.ClassQuota, 1},
		{"auth moves on at once", "error 401 provider=anthropic", llm.FallbackConfig{}, "openai/gpt-4o-mini", rebound.ClassAuth, 1},
		{"context_overflow skips the smaller window", "context-overflow provider=anthropic", llm.FallbackConfig{}, "openai/gpt-4.1", rebound.ClassContextOverflow, 1},
		{"content_policy moves on", "refusal provider=anthropic", llm.FallbackConfig{}, "openai/gpt-4o-mini", rebound.ClassContentPolicy, 1},
		{"content_policy escalates", "refusal provider=anthropic", llm.FallbackConfig{ContentPolicy: llm.ContentPolicyEscalate}, "", rebound.ClassContentPolicy, 1},
		{"invalid never moves on", "error 400 provider=anthropic", llm.FallbackConfig{}, "", rebound.ClassInvalid, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, srv := fakeModels(t, tt.script)
			oc := openai.NewClient(ooption.WithAPIKey("sk-t"), ooption.WithBaseURL(srv.OpenAIBaseURL))
			small := openaillm.New(oc, "gpt-4o-mini", openaillm.WithContextWindow(100_000))
			large := openaillm.New(oc, "gpt-4.1", openaillm.WithContextWindow(1_000_000))
			var ev llmtest.Events
			cfg := llm.Config{Retry: slow, Hook: ev.Emit}
			chain := llm.FallbackWith(tt.cfg, mustResilient(t, a, cfg), mustResilient(t, small, cfg), mustResilient(t, large, cfg))
			resp, err := chain.Generate(context.Background(), req)
			if tt.answer == "" {
				if err == nil {
					t.Fatalf("answered by %s", resp.Provenance.Model)
				}
				if c, _ := rebound.Classify(err); c != tt.class {
					t.Errorf("class %v, want %v (%v)", c, tt.class, err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				p := resp.Provenance
				if p.Model != tt.answer || !p.Degraded || len(p.Failures) != 1 || p.Failures[0].Model != "anthropic/claude-haiku-4-5" || p.Failures[0].Class != tt.class {
					t.Errorf("provenance %+v", p)
				}
			}
			if r := ev.Of(rebound.RetryScheduled); len(r) != 0 {
				t.Errorf("retries scheduled: %+v", r)
			}
			var want int64 = tt.primary
			if tt.answer != "" {
				want++
			}
			requests(srv, want)
			c := srv.Counters()
			if c.Requests != want || c.ByModel["claude-haiku-4-5"] != tt.primary {
				t.Errorf("requests %d (by model %v), want %d with %d to the primary", c.Requests, c.ByModel, want, tt.primary)
			}
		})
	}
}

// A stream that sends nothing after its headers fails the attempt at the first-token timeout
// (class timeout), and the retry answers.
func TestFirstTokenTimeoutThroughSDK(t *testing.T) {
	for _, provider := range []string{"anthropic", "openai"} {
		t.Run(provider, func(t *testing.T) {
			a, o, srv := fakeModels(t, "stall after=0 times=1")
			var m llm.Model = a
			if provider == "openai" {
				m = o
			}
			var ev llmtest.Events
			r := mustResilient(t, m, llm.Config{Retry: quick, FirstTokenTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute, Hook: ev.Emit})
			resp, err := r.Stream(context.Background(), req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text == "" {
				t.Error("empty answer")
			}
			f := ev.Of(rebound.AttemptFailed)
			if len(f) != 1 || f[0].Class != rebound.ClassTimeout {
				t.Fatalf("attempt_failed %+v", f)
			}
			var e *rebound.Error
			if !errors.As(f[0].Err, &e) || e.Class != rebound.ClassTimeout || !strings.Contains(e.Message, "no first token") {
				t.Errorf("failure %v", f[0].Err)
			}
			if n := requests(srv, 2); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}
