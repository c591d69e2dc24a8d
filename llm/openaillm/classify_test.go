package openaillm_test

import (
	"context"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/llmtest"
	"github.com/rebound-go/rebound/llm/openaillm"
)

func newModel(t *testing.T, script string) (*openaillm.Model, *fakellm.Server) {
	t.Helper()
	srv := fakellm.NewServer(t, script)
	// The SDK's default of 2 retries is left in the client on purpose: the adapter must turn it
	// off for every call.
	client := openai.NewClient(option.WithAPIKey("sk-test"), option.WithBaseURL(srv.OpenAIBaseURL))
	return openaillm.New(client, "gpt-4o"), srv
}

// suiteModel is newModel for the adapter conformance suite.
func suiteModel(t *testing.T, script string) (llm.Model, *fakellm.Server) { return newModel(t, script) }

var req = llm.Request{System: "Be brief.", Messages: []llm.Message{llm.User("Say hi.")}, MaxTokens: 64}

func boolp(b bool) *bool { return &b }

// Every row of the classification table (docs/provider-errors.md §5.1, OpenAI) that fakellm can
// produce, through the real SDK, non-streaming and streaming.
func TestClassificationTable(t *testing.T) {
	rows := []struct {
		Name, Script string
		Class        rebound.Class
		Status       int
		Type, Code   string
		RetryAfter   time.Duration
		ShouldRetry  *bool
		Retriable    bool
	}{
		{"400 invalid_request_error", "error 400", rebound.ClassInvalid, 400, "invalid_request_error", "", 0, nil, false},
		{"400 context_length_exceeded", "context-overflow", rebound.ClassContextOverflow, 400, "invalid_request_error", "context_length_exceeded", 0, nil, false},
		{"401 invalid_api_key", "error 401", rebound.ClassAuth, 401, "invalid_request_error", "invalid_api_key", 0, nil, false},
		{"403 region not supported", "error 403", rebound.ClassAuth, 403, "invalid_request_error", "unsupported_country_region_territory", 0, nil, false},
		{"404 model_not_found", "error 404", rebound.ClassInvalid, 404, "invalid_request_error", "model_not_found", 0, nil, false},
		{"409", "error 409 retry-after=1", rebound.ClassTransient, 409, "invalid_request_error", "", time.Second, nil, true},
		{"429 rate_limit_exceeded", "error 429 retry-after-ms=644", rebound.ClassRateLimited, 429, "requests", "rate_limit_exceeded", 644 * time.Millisecond, nil, true},
		{"429 request too large", `error 429 type=tokens code=rate_limit_exceeded message="Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully."`, rebound.ClassContextOverflow, 429, "tokens", "rate_limit_exceeded", 0, nil, false},
		{"429 insufficient_quota", "quota", rebound.ClassQuota, 429, "insufficient_quota", "insufficient_quota", 0, nil, false},
		{"429 insufficient_quota with retry-after", "quota retry-after=1", rebound.ClassQuota, 429, "insufficient_quota", "insufficient_quota", 0, nil, false},
		{"429 spend limit", "error 429 type=insufficient_quota code=organization_spend_limit_exceeded", rebound.ClassQuota, 429, "insufficient_quota", "organization_spend_limit_exceeded", 0, nil, false},
		{"429 slow_down", "error 429 type=requests code=slow_down retry-after=2", rebound.ClassRateLimited, 429, "requests", "slow_down", 2 * time.Second, nil, true},
		{"500 server_error", "error 500", rebound.ClassTransient, 500, "server_error", "", 0, nil, true},
		{"500 x-should-retry false", "error 500 should-retry=false", rebound.ClassTransient, 500, "server_error", "", 0, boolp(false), false},
		{"502", "error 502", rebound.ClassTransient, 502, "server_error", "", 0, nil, true},
		{"502 HTML from a proxy", "html 502", rebound.ClassTransient, 502, "", "", 0, nil, true},
		{"503 server_is_overloaded", "error 503 retry-after=1", rebound.ClassOverloaded, 503, "server_error", "server_is_overloaded", time.Second, nil, true},
		{"504", "error 504", rebound.ClassTimeout, 504, "server_error", "", 0, nil, true},
		{"200 content_filter", "content-filter", rebound.ClassContentPolicy, 200, "content_filter", "", 0, nil, false},
		{"200 refusal", "refusal", rebound.ClassContentPolicy, 200, "refusal", "", 0, nil, false},
	}
	tests := make([]llmtest.Case, len(rows))
	for i, r := range rows {
		tests[i] = llmtest.Case(r)
	}
	llmtest.Classification(t, "openai", suiteModel, tests)
}

func TestStreamFaults(t *testing.T) {
	rows := []struct {
		Name, Script string
		Class        rebound.Class
		Type         string
	}{
		{"error frame server_error", "stream-error", rebound.ClassTransient, "server_error"},
		{"error frame first", "stream-error after=0", rebound.ClassTransient, "server_error"},
		{"error frame rate limit", "stream-error type=requests code=rate_limit_exceeded", rebound.ClassRateLimited, "requests"},
		{"connection cut", "cut", rebound.ClassTransient, ""},
		{"clean end without [DONE]", "truncate", rebound.ClassMalformed, ""},
		{"malformed chunk", "malformed", rebound.ClassMalformed, ""},
	}
	tests := make([]llmtest.StreamCase, len(rows))
	for i, r := range rows {
		tests[i] = llmtest.StreamCase(r)
	}
	llmtest.StreamFaults(t, suiteModel, tests)
}

// A malformed body, a reset connection and a hung call, as for every adapter.
func TestTransport(t *testing.T) { llmtest.Transport(t, suiteModel) }

func TestSuccess(t *testing.T) {
	for _, stream := range []bool{false, true} {
		m, _ := newModel(t, "")
		var text string
		var resp *llm.Response
		var err error
		if stream {
			resp, err = m.Stream(context.Background(), req, func(d llm.Delta) { text += d.Text })
		} else {
			resp, err = m.Generate(context.Background(), req)
			if resp != nil {
				text = resp.Text
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.Text == "" || resp.Text != text {
			t.Errorf("stream=%v: text %q, deltas %q", stream, resp.Text, text)
		}
		if resp.StopReason != llm.StopEndTurn || resp.Usage.OutputTokens == 0 || resp.Usage.InputTokens == 0 {
			t.Errorf("stream=%v: %+v", stream, resp)
		}
		if resp.Provenance.Model != "openai/gpt-4o" {
			t.Errorf("provenance %+v", resp.Provenance)
		}
		if resp.Header.Get("x-ratelimit-limit-requests") == "" {
			t.Errorf("no rate-limit header in %v", resp.Header)
		}
	}
}

func TestLengthIsASoftStop(t *testing.T) {
	for _, stream := range []bool{false, true} {
		m, _ := newModel(t, "max-tokens")
		var resp *llm.Response
		var err error
		if stream {
			resp, err = m.Stream(context.Background(), req, nil)
		} else {
			resp, err = m.Generate(context.Background(), req)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Truncated() {
			t.Errorf("stream=%v: stop %q, want max_tokens", stream, resp.StopReason)
		}
	}
}

// requests returns the number of requests the server has counted, waiting a little for the
// count of a request whose connection the client dropped first.
