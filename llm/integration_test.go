package llm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/llm/openaillm"
	"github.com/rebound-go/rebound/retry"
)

// Real SDKs against fakellm, on real time with short settings.

var quick = retry.Policy{MaxAttempts: 3, Base: time.Millisecond, Cap: 20 * time.Millisecond}

func fakeModels(t *testing.T, script string) (*anthropicllm.Model, *openaillm.Model, *fakellm.Server) {
	srv := fakellm.NewServer(t, script)
	a := anthropicllm.New(anthropic.NewClient(aoption.WithAPIKey("sk-ant-t"), aoption.WithBaseURL(srv.AnthropicBaseURL)), "claude-haiku-4-5")
	o := openaillm.New(openai.NewClient(ooption.WithAPIKey("sk-t"), ooption.WithBaseURL(srv.OpenAIBaseURL)), "gpt-4o")
	return a, o, srv
}

// Stream faults are retried by Resilient; the failed attempts' partial output is discarded.
func TestStreamFaultsRecover(t *testing.T) {
	for _, fault := range []string{"stall after=3", "cut after=3", "truncate after=3", "stream-error after=3"} {
		for _, provider := range []string{"anthropic", "openai"} {
			t.Run(provider+"/"+fault, func(t *testing.T) {
				a, o, srv := fakeModels(t, fault+" times=1")
				var m llm.Model = a
				if provider == "openai" {
					m = o
				}
				var ev llmtest.Events
				r := mustResilient(t, m, llm.Config{Retry: quick, FirstTokenTimeout: time.Second, IdleTimeout: time.Second, Hook: ev.Emit})
				var text string
				resp, err := r.Stream(context.Background(), req, func(d llm.Delta) {
					if d.Restart {
						text = ""
					}
					text += d.Text
				})
				if err != nil {
					t.Fatal(err)
				}
				if text != resp.Text || resp.Text == "" {
					t.Errorf("delivered %q, answer %q", text, resp.Text)
				}
				if f := ev.Of(rebound.AttemptFailed); len(f) != 1 {
					t.Errorf("attempt_failed %+v", f)
				} else if fault == "stall after=3" && f[0].Class != rebound.ClassTimeout {
					t.Errorf("stall: class %v", f[0].Class)
				}
				if n := requests(srv, 2); n != 2 {
					t.Errorf("%d requests, want 2", n)
				}
			})
		}
	}
}

// Anthropic's 529 moves the chain to OpenAI; a spend limit moves it at once.
func TestFallbackAcrossProviders(t *testing.T) {
	a, o, srv := fakeModels(t, "error 529 provider=anthropic\nquota provider=openai model=gpt-4o-mini")
	chain := llm.Fallback(mustResilient(t, a, llm.Config{Retry: quick}), mustResilient(t, o, llm.Config{Retry: quick}))
	resp, err := chain.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Provenance.Model != "openai/gpt-4o" || !resp.Provenance.Degraded || resp.Provenance.Failures[0].Class != rebound.ClassOverloaded {
		t.Errorf("provenance %+v", resp.Provenance)
	}
	requests(srv, 4) // three to the primary, one to the fallback, counted when their handlers end
	if n := srv.Counters().ByModel["claude-haiku-4-5"]; n != 3 {
		t.Errorf("%d requests to the primary, want 3 (retried, then fallen back)", n)
	}
}

func TestStreamingRequiredIsInvalid(t *testing.T) {
	a, _, srv := fakeModels(t, "")
	_, err := a.Generate(context.Background(), llm.Request{Messages: []llm.Message{llm.User("long")}, MaxTokens: 64000})
	if c, _ := rebound.Classify(err); c != rebound.ClassInvalid || !strings.Contains(err.Error(), "streaming is required") {
		t.Errorf("class %v: %v", c, err)
	}
	if srv.Counters().Requests != 0 {
		t.Error("sent")
	}
}

// requests returns the number of requests the server has counted once it reaches want, or
// after 2 s: a request whose connection was cut is counted when its handler ends.
func requests(srv *fakellm.Server, want int64) int64 {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := srv.Counters().Requests
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}
