package anthropicllm_test

import (
	"context"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/llm/llmtest"
)

func newModel(t *testing.T, script string) (*anthropicllm.Model, *fakellm.Server) {
	t.Helper()
	srv := fakellm.NewServer(t, script)
	// The SDK's default of 2 retries is left in the client on purpose: the adapter must turn it
	// off for every call.
	client := anthropic.NewClient(option.WithAPIKey("sk-ant-test"), option.WithBaseURL(srv.AnthropicBaseURL))
	return anthropicllm.New(client, "claude-haiku-4-5"), srv
}

// suiteModel is newModel for the adapter conformance suite.
func suiteModel(t *testing.T, script string) (llm.Model, *fakellm.Server) { return newModel(t, script) }

var req = llm.Request{Messages: []llm.Message{llm.User("Say hi.")}, MaxTokens: 64}

func boolp(b bool) *bool { return &b }

// Every row of the classification table (docs/provider-errors.md §5.1, Anthropic) that fakellm
// can produce, through the real SDK, non-streaming and streaming.
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
		{"400 with error_code", "error 400 code=tool_name_conflict", rebound.ClassInvalid, 400, "invalid_request_error", "tool_name_conflict", 0, nil, false},
		{"400 prompt is too long", "context-overflow", rebound.ClassContextOverflow, 400, "invalid_request_error", "", 0, nil, false},
		{"400 spend limit", `error 400 message="You have reached your specified workspace API usage limits. You will regain access on 2026-12-01 at 00:00 UTC."`, rebound.ClassQuota, 400, "invalid_request_error", "", 0, nil, false},
		{"401 authentication_error", "error 401", rebound.ClassAuth, 401, "authentication_error", "", 0, nil, false},
		{"402 billing_error", "error 402", rebound.ClassQuota, 402, "billing_error", "", 0, nil, false},
		{"403 permission_error", "error 403", rebound.ClassAuth, 403, "permission_error", "", 0, nil, false},
		{"404 not_found_error", "error 404", rebound.ClassInvalid, 404, "not_found_error", "", 0, nil, false},
		{"409 conflict_error", "error 409 retry-after-ms=20", rebound.ClassTransient, 409, "conflict_error", "", 20 * time.Millisecond, nil, true},
		{"413 request_too_large", "error 413", rebound.ClassContextOverflow, 413, "request_too_large", "", 0, nil, false},
		{"413 HTML from a proxy", "html 413", rebound.ClassContextOverflow, 413, "", "", 0, nil, false},
		{"429 rate_limit_error", "error 429 retry-after=2", rebound.ClassRateLimited, 429, "rate_limit_error", "", 2 * time.Second, nil, true},
		{"429 ramp_limit_exceeded", "error 429 code=ramp_limit_exceeded retry-after-ms=300", rebound.ClassRateLimited, 429, "rate_limit_error", "ramp_limit_exceeded", 300 * time.Millisecond, nil, true},
		{"429 enforced_spend_limit_reached", "quota", rebound.ClassQuota, 429, "rate_limit_error", "enforced_spend_limit_reached", 0, nil, false},
		{"429 contract_spend_limit_reached", "error 429 code=contract_spend_limit_reached", rebound.ClassQuota, 429, "rate_limit_error", "contract_spend_limit_reached", 0, nil, false},
		{"500 api_error", "error 500", rebound.ClassTransient, 500, "api_error", "", 0, nil, true},
		{"500 x-should-retry false", "error 500 should-retry=false", rebound.ClassTransient, 500, "api_error", "", 0, boolp(false), false},
		{"400 x-should-retry true", "error 400 should-retry=true", rebound.ClassInvalid, 400, "invalid_request_error", "", 0, boolp(true), true},
		{"502 HTML from a proxy", "html 502", rebound.ClassTransient, 502, "", "", 0, nil, true},
		{"503 cmek_key_unreachable", "error 503 code=cmek_key_unreachable retry-after=1", rebound.ClassTransient, 503, "api_error", "cmek_key_unreachable", time.Second, nil, true},
		{"504 timeout_error", "error 504", rebound.ClassTimeout, 504, "timeout_error", "", 0, nil, true},
		{"529 overloaded_error", "error 529", rebound.ClassOverloaded, 529, "overloaded_error", "", 0, nil, true},
		{"529 overloaded_error with retry-after", "error 529 retry-after=3", rebound.ClassOverloaded, 529, "overloaded_error", "", 3 * time.Second, nil, true},
		{"200 refusal", "refusal", rebound.ClassContentPolicy, 200, "refusal", "cyber", 0, nil, false},
		{"200 content filter", "content-filter", rebound.ClassContentPolicy, 200, "refusal", "cyber", 0, nil, false},
	}
	tests := make([]llmtest.Case, len(rows))
	for i, r := range rows {
		tests[i] = llmtest.Case(r)
	}
	llmtest.Classification(t, "anthropic", suiteModel, tests)
}

// Stream faults: mid-stream error events by type, cuts, clean truncation, malformed events.
func TestStreamFaults(t *testing.T) {
	rows := []struct {
		Name, Script string
		Class        rebound.Class
		Type         string
	}{
		{"error event overloaded_error", "stream-error", rebound.ClassOverloaded, "overloaded_error"},
		{"error event first", "stream-error after=0", rebound.ClassOverloaded, "overloaded_error"},
		{"error event api_error", "stream-error type=api_error", rebound.ClassTransient, "api_error"},
		{"error event rate_limit_error", "stream-error type=rate_limit_error", rebound.ClassRateLimited, "rate_limit_error"},
		{"error event of an unknown type", "stream-error type=brand_new_error", rebound.ClassTransient, "brand_new_error"},
		{"connection cut", "cut", rebound.ClassTransient, ""},
		{"clean end without message_stop", "truncate", rebound.ClassMalformed, ""},
		{"malformed event", "malformed", rebound.ClassMalformed, ""},
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
		m, srv := newModel(t, "")
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
		if resp.Provenance.Model != "anthropic/claude-haiku-4-5" || resp.Provenance.Degraded {
			t.Errorf("provenance %+v", resp.Provenance)
		}
		if resp.Header.Get("anthropic-ratelimit-requests-limit") == "" {
			t.Errorf("no rate-limit header in %v", resp.Header)
		}
		llmtest.Requests(srv)
		if recs := srv.Requests(); len(recs) != 1 || recs[0].RetryCount != "0" {
			t.Errorf("requests %+v", recs)
		}
	}
}

func TestMaxTokensIsASoftStop(t *testing.T) {
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
		if !resp.Truncated() || resp.StopReason != llm.StopMaxTokens {
			t.Errorf("stream=%v: stop %q, want max_tokens", stream, resp.StopReason)
		}
	}
}

func TestNameAndWindow(t *testing.T) {
	m := anthropicllm.New(anthropic.NewClient(option.WithAPIKey("k")), "claude-sonnet-4-6", anthropicllm.WithContextWindow(1_000_000))
	if m.Name() != "anthropic/claude-sonnet-4-6" || m.ContextWindow() != 1_000_000 {
		t.Errorf("%s %d", m.Name(), m.ContextWindow())
	}
}

// requests returns the number of requests the server has counted, waiting a little for the
// count of a request whose connection the client dropped first.
