package rebound_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

// The responses below come from docs/provider-errors.md (§2, §3, §4.3 and §5.1), so that
// the classification table of docs/architecture.md ("The error vocabulary") is checked row by row against
// what providers really send. Status, error type, error code and headers are the reference's;
// messages and request IDs are quoted verbatim where the reference quotes a real response, and
// written "…" (as the reference itself writes them) where it names only the type or code.

// providerBody is the error object of both wire shapes: Anthropic's
// {"type":"error","error":{"type","message","details":{"error_code"}},"request_id"} and OpenAI's
// {"error":{"message","type","param","code"}}.
type providerBody struct {
	Error struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Details struct {
			ErrorCode string `json:"error_code"`
		} `json:"details"`
	} `json:"error"`
}

// fromResponse builds the *Error an adapter builds from a failed response: rebound.HTTPError on
// the status and headers, then the body's type, code and message when the body is JSON (a proxy's
// HTML page is not, and leaves the status to decide).
func fromResponse(t *testing.T, provider string, status int, headers map[string]string, body string, now time.Time) *rebound.Error {
	t.Helper()
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	e := rebound.HTTPError(status, h, now)
	e.Provider = provider
	var b providerBody
	if json.Unmarshal([]byte(body), &b) == nil {
		e.Type, e.Message = b.Error.Type, b.Error.Message
		e.Code = b.Error.Code
		if b.Error.Details.ErrorCode != "" {
			e.Code = b.Error.Details.ErrorCode
		}
	}
	return e
}

func TestVocabularyHTTPRows(t *testing.T) {
	now := time.Date(2025, 8, 21, 12, 40, 0, 0, time.UTC)
	tests := []struct {
		row      string // the class row of docs/architecture.md this case belongs to
		name     string
		provider string
		status   int
		headers  map[string]string
		body     string
		// statusClass is what the status and headers alone say (rebound.HTTPError).
		statusClass rebound.Class
		// adapterClass, when set, is the class an adapter assigns from the body's type or code
		// (docs/provider-errors.md §5.1: type/code first, status second).
		adapterClass rebound.Class
		retriable    bool
		delay        time.Duration
		requestID    string
	}{
		// transient
		{row: "transient", name: "anthropic 500 api_error", provider: "anthropic", status: 500,
			headers:     map[string]string{"request-id": "req_018EeWyXxfu5pfWkrYcMdjWG"},
			body:        `{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_018EeWyXxfu5pfWkrYcMdjWG"}`,
			statusClass: rebound.ClassTransient, retriable: true, requestID: "req_018EeWyXxfu5pfWkrYcMdjWG"},
		{row: "transient", name: "openai 500 server_error", provider: "openai", status: 500,
			headers:     map[string]string{"x-request-id": "req_…"},
			body:        `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`,
			statusClass: rebound.ClassTransient, retriable: true, requestID: "req_…"},
		{row: "transient", name: "proxy 502 HTML page", provider: "anthropic", status: 502,
			body:        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>",
			statusClass: rebound.ClassTransient, retriable: true},
		{row: "transient", name: "anthropic 503 cmek_key_unreachable with retry-after", provider: "anthropic", status: 503,
			headers:     map[string]string{"retry-after": "5"},
			body:        `{"type":"error","error":{"type":"api_error","message":"…","details":{"error_code":"cmek_key_unreachable"}},"request_id":"req_…"}`,
			statusClass: rebound.ClassTransient, retriable: true, delay: 5 * time.Second},
		{row: "transient", name: "anthropic 409 conflict_error", provider: "anthropic", status: 409,
			body:        `{"type":"error","error":{"type":"conflict_error","message":"…"},"request_id":"req_…"}`,
			statusClass: rebound.ClassTransient, retriable: true},

		// rate_limited
		{row: "rate_limited", name: "anthropic 429 rate_limit_error with retry-after", provider: "anthropic", status: 429,
			headers: map[string]string{"retry-after": "2", "anthropic-ratelimit-requests-remaining": "0",
				"anthropic-ratelimit-requests-reset": "2025-08-21T12:40:59Z"},
			body:        `{"type":"error","error":{"type":"rate_limit_error","message":"…"},"request_id":"req_…"}`,
			statusClass: rebound.ClassRateLimited, retriable: true, delay: 2 * time.Second},
		{row: "rate_limited", name: "anthropic 429 with x-should-retry true and only reset headers", provider: "anthropic", status: 429,
			// The headers of anthropics/anthropic-sdk-typescript#357 (x-should-retry: true, requests
			// remaining 0, no retry-after), with the reset times of the recorded response of §2.3.
			headers: map[string]string{"x-should-retry": "true", "anthropic-ratelimit-requests-remaining": "0",
				"anthropic-ratelimit-requests-reset":   "2025-08-21T12:40:59Z",
				"anthropic-ratelimit-tokens-remaining": "96000", "anthropic-ratelimit-tokens-reset": "2025-08-21T12:40:01Z"},
			body:        `{"type":"error","error":{"type":"rate_limit_error","message":"…"},"request_id":"req_…"}`,
			statusClass: rebound.ClassRateLimited, retriable: true, delay: 59 * time.Second},
		{row: "rate_limited", name: "anthropic 429 ramp_limit_exceeded", provider: "anthropic", status: 429,
			headers:     map[string]string{"retry-after": "7"},
			body:        `{"type":"error","error":{"type":"rate_limit_error","message":"…","details":{"error_code":"ramp_limit_exceeded"}},"request_id":"req_…"}`,
			statusClass: rebound.ClassRateLimited, retriable: true, delay: 7 * time.Second},
		{row: "rate_limited", name: "openai 429 rate_limit_exceeded tokens", provider: "openai", status: 429,
			headers:     map[string]string{"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "644ms", "x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "120ms"},
			body:        `{"error":{"message":"Rate limit reached for gpt-4o in organization org-… on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			statusClass: rebound.ClassRateLimited, retriable: true, delay: 644 * time.Millisecond},
		{row: "rate_limited", name: "openai 429 with retry-after-ms", provider: "openai", status: 429,
			headers:     map[string]string{"retry-after-ms": "50", "retry-after": "1", "x-ratelimit-reset-requests": "6m0s"},
			body:        `{"error":{"message":"…","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			statusClass: rebound.ClassRateLimited, retriable: true, delay: 50 * time.Millisecond},
		{row: "rate_limited", name: "openrouter 429 (LiteLLM #9035), reset only in the body", provider: "openrouter", status: 429,
			body:        `{"error":{"message":"Rate limit exceeded: limit_rpd/…","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"80","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1741305600000"}}}}`,
			statusClass: rebound.ClassRateLimited, retriable: true},
		{row: "rate_limited", name: "openai 429 slow_down", provider: "openai", status: 429,
			headers:     map[string]string{"retry-after": "Thu, 21 Aug 2025 12:40:30 GMT"},
			body:        `{"error":{"message":"…","type":"slow_down","param":null,"code":"slow_down"}}`,
			statusClass: rebound.ClassRateLimited, retriable: true, delay: 30 * time.Second},

		// overloaded
		{row: "overloaded", name: "anthropic 529 overloaded_error", provider: "anthropic", status: 529,
			body:        `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CSLsW7mFqvHHnzrKdKjAE"}`,
			statusClass: rebound.ClassOverloaded, retriable: true},
		{row: "overloaded", name: "openai 503 engine overloaded", provider: "openai", status: 503,
			body:        `{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":"server_is_overloaded"}}`,
			statusClass: rebound.ClassTransient, adapterClass: rebound.ClassOverloaded, retriable: true},

		// timeout
		{row: "timeout", name: "anthropic 504 timeout_error", provider: "anthropic", status: 504,
			body:        `{"type":"error","error":{"type":"timeout_error","message":"Request timeout"},"request_id":"req_…"}`,
			statusClass: rebound.ClassTimeout, retriable: true},
		{row: "timeout", name: "408 request timeout", provider: "openrouter", status: 408,
			statusClass: rebound.ClassTimeout, retriable: true},

		// context_overflow
		{row: "context_overflow", name: "anthropic 400 prompt is too long", provider: "anthropic", status: 400,
			body:        `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 200251 tokens > 200000 maximum"},"request_id":"req_011CWdepJvA2D819tdYYq4h7"}`,
			statusClass: rebound.ClassInvalid, adapterClass: rebound.ClassContextOverflow},
		{row: "context_overflow", name: "anthropic 413 from cloudflare, not JSON", provider: "anthropic", status: 413,
			body:        "<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center><hr><center>cloudflare</center></body></html>",
			statusClass: rebound.ClassContextOverflow},
		{row: "context_overflow", name: "openai 400 context_length_exceeded", provider: "openai", status: 400,
			body:        `{"error":{"message":"…","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			statusClass: rebound.ClassInvalid, adapterClass: rebound.ClassContextOverflow},
		{row: "context_overflow", name: "openai 429 request too large", provider: "openai", status: 429,
			body:        `{"error":{"message":"Request too large for gpt-4o in organization org-… on tokens per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			statusClass: rebound.ClassRateLimited, adapterClass: rebound.ClassContextOverflow},

		// quota
		{row: "quota", name: "openai 429 insufficient_quota", provider: "openai", status: 429,
			body:        `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			statusClass: rebound.ClassRateLimited, adapterClass: rebound.ClassQuota},
		{row: "quota", name: "anthropic 429 enforced_spend_limit_reached", provider: "anthropic", status: 429,
			body:        `{"type":"error","error":{"type":"rate_limit_error","message":"…","details":{"error_code":"enforced_spend_limit_reached"}},"request_id":"req_…"}`,
			statusClass: rebound.ClassRateLimited, adapterClass: rebound.ClassQuota},
		{row: "quota", name: "anthropic 402 billing_error", provider: "anthropic", status: 402,
			body:        `{"type":"error","error":{"type":"billing_error","message":"…","details":{"error_code":"linked_organization_spend_limit_reached"}},"request_id":"req_…"}`,
			statusClass: rebound.ClassQuota},
		{row: "quota", name: "openrouter 402 insufficient credits", provider: "openrouter", status: 402,
			body:        `{"error":{"code":402,"message":"…","metadata":{}}}`,
			statusClass: rebound.ClassQuota},

		// auth
		{row: "auth", name: "anthropic 401 authentication_error", provider: "anthropic", status: 401,
			body:        `{"type":"error","error":{"type":"authentication_error","message":"…"},"request_id":"req_…"}`,
			statusClass: rebound.ClassAuth},
		{row: "auth", name: "anthropic 403 permission_error", provider: "anthropic", status: 403,
			body:        `{"type":"error","error":{"type":"permission_error","message":"…"},"request_id":"req_…"}`,
			statusClass: rebound.ClassAuth},
		{row: "auth", name: "openai 403 region not supported", provider: "openai", status: 403,
			body:        `{"error":{"message":"Country, region, or territory not supported"}}`,
			statusClass: rebound.ClassAuth},

		// invalid
		{row: "invalid", name: "anthropic 400 invalid_request_error", provider: "anthropic", status: 400,
			body:        `{"type":"error","error":{"type":"invalid_request_error","message":"…","details":{"error_code":"tool_name_conflict"}},"request_id":"req_…"}`,
			statusClass: rebound.ClassInvalid},
		{row: "invalid", name: "anthropic 404 not_found_error", provider: "anthropic", status: 404,
			body:        `{"type":"error","error":{"type":"not_found_error","message":"…"},"request_id":"req_…"}`,
			statusClass: rebound.ClassInvalid},
		{row: "invalid", name: "openai 404 model", provider: "openai", status: 404,
			body:        `{"error":{"message":"…"}}`,
			statusClass: rebound.ClassInvalid},

		// x-should-retry: false always wins
		{row: "transient", name: "anthropic 500 with x-should-retry false", provider: "anthropic", status: 500,
			headers:     map[string]string{"x-should-retry": "false", "retry-after": "1"},
			body:        `{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_…"}`,
			statusClass: rebound.ClassTransient, retriable: false, delay: time.Second},
		{row: "overloaded", name: "anthropic 529 with x-should-retry false", provider: "anthropic", status: 529,
			headers:     map[string]string{"x-should-retry": "False"},
			body:        `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CSLsW7mFqvHHnzrKdKjAE"}`,
			statusClass: rebound.ClassOverloaded, retriable: false},
	}
	for _, tt := range tests {
		t.Run(tt.row+"/"+tt.name, func(t *testing.T) {
			e := fromResponse(t, tt.provider, tt.status, tt.headers, tt.body, now)
			if e.Class != tt.statusClass {
				t.Fatalf("HTTPError(%d) class %v, want %v", tt.status, e.Class, tt.statusClass)
			}
			if tt.adapterClass != rebound.ClassUnknown {
				e.Class = tt.adapterClass
			}
			want := e.Class
			if tt.adapterClass == 0 && want.String() != tt.row {
				t.Fatalf("row %s but status class %v", tt.row, want)
			}
			var err error = fmt.Errorf("messages.create: %w", e)
			c, d := rebound.Classify(err)
			if c != want || d != tt.delay {
				t.Fatalf("Classify = %v, %v; want %v, %v", c, d, want, tt.delay)
			}
			if got := rebound.Retriable(err); got != tt.retriable {
				t.Fatalf("Retriable = %v, want %v", got, tt.retriable)
			}
			if r, marked := rebound.Marked(err); marked != (tt.headers["x-should-retry"] != "") || marked && r != tt.retriable {
				t.Fatalf("Marked = %v, %v", r, marked)
			}
			if tt.requestID != "" && e.RequestID != tt.requestID {
				t.Fatalf("RequestID %q, want %q", e.RequestID, tt.requestID)
			}
			if !errors.Is(err, e) {
				t.Fatal("wrapped *Error not found by errors.Is")
			}
		})
	}
}

// TestVocabularyNonHTTPRows covers the rows whose failures are not an HTTP status: stream events,
// validation, timeouts, cancellation, unmarked errors.
func TestVocabularyNonHTTPRows(t *testing.T) {
	// A truncated JSON body, as a bare decode error and as an adapter reports it.
	var v map[string]any
	jsonErr := json.Unmarshal([]byte(`{"id":"msg_01","content":[{"type":"text","text":"Hel`), &v)
	if jsonErr == nil {
		t.Fatal("truncated JSON decoded")
	}
	tests := []struct {
		row       string
		name      string
		err       error
		want      rebound.Class
		retriable bool
	}{
		{"transient", "unexpected EOF (stream cut)", io.ErrUnexpectedEOF, rebound.ClassTransient, true},
		{"transient", "wrapped unexpected EOF", fmt.Errorf("read SSE frame: %w", io.ErrUnexpectedEOF), rebound.ClassTransient, true},
		{"overloaded", "mid-stream overloaded event", &rebound.Error{Class: rebound.ClassOverloaded, Status: 200, Provider: "anthropic", Type: "overloaded_error", Message: "Overloaded"}, rebound.ClassOverloaded, true},
		{"timeout", "attempt deadline", context.DeadlineExceeded, rebound.ClassTimeout, true},
		{"timeout", "no first token", &rebound.Error{Class: rebound.ClassTimeout, Provider: "anthropic", Message: "no first token within 30s"}, rebound.ClassTimeout, true},
		{"timeout", "stream idle", &rebound.Error{Class: rebound.ClassTimeout, Provider: "openai", Message: "stream idle for 60s"}, rebound.ClassTimeout, true},
		{"malformed", "truncated stream", &rebound.Error{Class: rebound.ClassMalformed, Status: 200, Provider: "openai", Message: "stream ended without data: [DONE]"}, rebound.ClassMalformed, true},
		{"malformed", "bad JSON body", &rebound.Error{Class: rebound.ClassMalformed, Status: 200, Err: jsonErr}, rebound.ClassMalformed, true},
		{"malformed", "output fails validation", &rebound.Error{Class: rebound.ClassMalformed, Message: `missing field "title"`}, rebound.ClassMalformed, true},
		{"content_policy", "refusal", &rebound.Error{Class: rebound.ClassContentPolicy, Status: 200, Provider: "anthropic", Message: "stop_reason: refusal"}, rebound.ClassContentPolicy, false},
		{"content_policy", "content filter", &rebound.Error{Class: rebound.ClassContentPolicy, Status: 200, Provider: "openai", Message: "finish_reason: content_filter"}, rebound.ClassContentPolicy, false},
		{"canceled", "caller canceled", context.Canceled, rebound.ClassCanceled, false},
		{"canceled", "wrapped cancel", fmt.Errorf("step outline: %w", context.Canceled), rebound.ClassCanceled, false},
		{"unknown", "plain error", errors.New("tool exploded"), rebound.ClassUnknown, false},
		{"unknown", "bare JSON error", jsonErr, rebound.ClassUnknown, false},
		{"unknown", "marked transient", rebound.Transient(errors.New("tool exploded")), rebound.ClassTransient, true},
	}
	for _, tt := range tests {
		t.Run(tt.row+"/"+tt.name, func(t *testing.T) {
			c, d := rebound.Classify(tt.err)
			if c != tt.want || d != 0 {
				t.Fatalf("Classify = %v, %v; want %v, 0", c, d, tt.want)
			}
			if got := rebound.Retriable(tt.err); got != tt.retriable {
				t.Fatalf("Retriable = %v, want %v", got, tt.retriable)
			}
		})
	}
}

// TestVocabularyCoversEveryClass makes sure no class of docs/architecture.md's table was left out above.
func TestVocabularyCoversEveryClass(t *testing.T) {
	want := "unknown transient rate_limited overloaded timeout malformed context_overflow content_policy quota auth invalid canceled"
	if got := fmt.Sprint(rebound.Classes()); got != "["+want+"]" {
		t.Fatalf("Classes() = %s, want [%s]", got, want)
	}
	retriable := map[rebound.Class]bool{rebound.ClassTransient: true, rebound.ClassRateLimited: true,
		rebound.ClassOverloaded: true, rebound.ClassTimeout: true, rebound.ClassMalformed: true}
	for _, c := range rebound.Classes() {
		if c.Retriable() != retriable[c] {
			t.Errorf("%v.Retriable() = %v, docs/architecture.md says %v", c, c.Retriable(), retriable[c])
		}
	}
}
