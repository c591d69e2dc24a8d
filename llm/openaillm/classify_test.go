package openaillm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
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

var req = llm.Request{System: "Be brief.", Messages: []llm.Message{llm.User("Say hi.")}, MaxTokens: 64}

func boolp(b bool) *bool { return &b }

// Every row of the classification table (reference/llm-errors.md §5.1, OpenAI) that fakellm can
// produce, through the real SDK, non-streaming and streaming.
func TestClassificationTable(t *testing.T) {
	tests := []struct {
		name        string
		script      string
		class       rebound.Class
		status      int
		typ, code   string
		retryAfter  time.Duration
		shouldRetry *bool
		retriable   bool
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
	for _, stream := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if stream {
				name = "stream/" + name
			}
			t.Run(name, func(t *testing.T) {
				m, srv := newModel(t, tt.script)
				var err error
				if stream {
					_, err = m.Stream(context.Background(), req, nil)
				} else {
					_, err = m.Generate(context.Background(), req)
				}
				checkError(t, err, tt.class, tt.status, tt.typ, tt.code, tt.retryAfter, tt.shouldRetry, tt.retriable)
				if n := requests(srv); n != 1 {
					t.Errorf("server saw %d requests, want 1 (the SDK's retries must be off)", n)
				}
			})
		}
	}
}

func checkError(t *testing.T, err error, class rebound.Class, status int, typ, code string, retryAfter time.Duration, shouldRetry *bool, retriable bool) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	c, d := rebound.Classify(err)
	if c != class {
		t.Errorf("class = %v, want %v (%v)", c, class, err)
	}
	if rebound.Retriable(err) != retriable {
		t.Errorf("retriable = %v, want %v (%v)", rebound.Retriable(err), retriable, err)
	}
	var e *rebound.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not a *rebound.Error", err, err)
	}
	if e.Provider != "openai" {
		t.Errorf("provider = %q", e.Provider)
	}
	if e.Status != status {
		t.Errorf("status = %d, want %d", e.Status, status)
	}
	if e.Type != typ {
		t.Errorf("type = %q, want %q", e.Type, typ)
	}
	if e.Code != code {
		t.Errorf("code = %q, want %q", e.Code, code)
	}
	if d != retryAfter {
		t.Errorf("retry after = %v, want %v", d, retryAfter)
	}
	if (e.ShouldRetry == nil) != (shouldRetry == nil) || (shouldRetry != nil && *e.ShouldRetry != *shouldRetry) {
		t.Errorf("should retry = %v, want %v", e.ShouldRetry, shouldRetry)
	}
	if e.Status >= 400 && e.Type != "" && e.RequestID == "" {
		t.Errorf("no request ID")
	}
}

func TestStreamFaults(t *testing.T) {
	tests := []struct {
		name   string
		script string
		class  rebound.Class
		typ    string
	}{
		{"error frame server_error", "stream-error", rebound.ClassTransient, "server_error"},
		{"error frame first", "stream-error after=0", rebound.ClassTransient, "server_error"},
		{"error frame rate limit", "stream-error type=requests code=rate_limit_exceeded", rebound.ClassRateLimited, "requests"},
		{"connection cut", "cut", rebound.ClassTransient, ""},
		{"clean end without [DONE]", "truncate", rebound.ClassMalformed, ""},
		{"malformed chunk", "malformed", rebound.ClassMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, srv := newModel(t, tt.script)
			resp, err := m.Stream(context.Background(), req, func(llm.Delta) {})
			if err == nil {
				t.Fatalf("no error; response %+v", resp)
			}
			if c, _ := rebound.Classify(err); c != tt.class {
				t.Errorf("class = %v, want %v (%v)", c, tt.class, err)
			}
			var e *rebound.Error
			if tt.typ != "" && (!errors.As(err, &e) || e.Type != tt.typ || e.Status != 200) {
				t.Errorf("error %v: want type %q with status 200", err, tt.typ)
			}
			if !rebound.Retriable(err) {
				t.Errorf("%v is not retriable", err)
			}
			if n := requests(srv); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

func TestMalformedBody(t *testing.T) {
	m, _ := newModel(t, "malformed")
	_, err := m.Generate(context.Background(), req)
	if c, _ := rebound.Classify(err); c != rebound.ClassMalformed {
		t.Errorf("class = %v, want malformed (%v)", c, err)
	}
}

func TestTransport(t *testing.T) {
	m, srv := newModel(t, "reset")
	_, err := m.Generate(context.Background(), req)
	if c, _ := rebound.Classify(err); c != rebound.ClassTransient {
		t.Errorf("reset: class = %v, want transient (%v)", c, err)
	}
	if n := requests(srv); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestHangIsAttemptTimeout(t *testing.T) {
	m, _ := newModel(t, "hang")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := m.Generate(ctx, req)
	if c, _ := rebound.Classify(err); c != rebound.ClassTimeout {
		t.Errorf("class = %v, want timeout (%v)", c, err)
	}
}

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
func requests(srv *fakellm.Server) int64 {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := srv.Counters().Requests
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}
