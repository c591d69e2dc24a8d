package rebound_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

var now = time.Date(2025, 8, 21, 12, 40, 0, 0, time.UTC)

func TestParseRetryAfterMS(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"50", 50 * time.Millisecond, true},
		{" 50 ", 50 * time.Millisecond, true},
		{"0", 0, true},
		{"12.5", 12500 * time.Microsecond, true},
		{"1e3", time.Second, true},
		{"", 0, false},
		{"-1", 0, false},
		{"NaN", 0, false},
		{"fifty", 0, false},
		{"1e30", 365 * 24 * time.Hour, true},
		{"Inf", 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := rebound.ParseRetryAfterMS(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfterMS(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"120", 2 * time.Minute, true},
		{"Thu, 21 Aug 2025 12:40:59 GMT", 59 * time.Second, true},     // RFC 1123
		{"Thursday, 21-Aug-25 12:41:00 GMT", time.Minute, true},       // RFC 850
		{"Thu Aug 21 12:40:10 2025", 10 * time.Second, true},          // ANSI C
		{"Thu, 21 Aug 2025 12:00:00 GMT", 0, true},                    // in the past
		{"Fri, 31 Dec 9999 23:59:59 GMT", 365 * 24 * time.Hour, true}, // far future, bounded
		{"99999999999", 365 * 24 * time.Hour, true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"2025-08-21T12:40:59Z", 0, false}, // RFC 3339 is not an HTTP date
	}
	for _, tt := range tests {
		got, ok := rebound.ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseResetDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"6m0s", 6 * time.Minute, true},
		{"12ms", 12 * time.Millisecond, true},
		{"9ms", 9 * time.Millisecond, true},
		{"1s", time.Second, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"2h3m4.5s", 2*time.Hour + 3*time.Minute + 4500*time.Millisecond, true},
		{"20", 20 * time.Second, true},
		{"0", 0, true},
		{"-1s", 0, false},
		{"-3", 0, false},
		{"", 0, false},
		{"6 minutes", 0, false},
		{"100000h", 365 * 24 * time.Hour, true},
		{"1e20", 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := rebound.ParseResetDuration(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseResetDuration(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestDelayHint(t *testing.T) {
	tests := []struct {
		name   string
		status int
		h      http.Header
		want   time.Duration
		ok     bool
	}{
		{"none", 429, header(), 0, false},
		{"retry-after-ms first", 429, header("retry-after-ms", "50", "retry-after", "3"), 50 * time.Millisecond, true},
		{"bad retry-after-ms falls to retry-after", 503, header("retry-after-ms", "x", "retry-after", "3"), 3 * time.Second, true},
		{"retry-after on 503", 503, header("retry-after", "5"), 5 * time.Second, true},
		{"retry-after beats reset headers", 429, header("retry-after", "1", "x-ratelimit-reset-tokens", "6m0s"), time.Second, true},
		{"reset headers only on 429", 503, header("x-ratelimit-reset-tokens", "6m0s"), 0, false},
		{"openai exhausted tokens", 429, header("x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "6m0s",
			"x-ratelimit-remaining-requests", "9999", "x-ratelimit-reset-requests", "12ms"), 6 * time.Minute, true},
		{"openai none exhausted: earliest", 429, header("x-ratelimit-reset-tokens", "6m0s", "x-ratelimit-reset-requests", "12ms"), 12 * time.Millisecond, true},
		{"anthropic exhausted requests", 429, header("anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", "2025-08-21T12:40:59Z",
			"anthropic-ratelimit-tokens-remaining", "96000", "anthropic-ratelimit-tokens-reset", "2025-08-21T12:40:01Z"), 59 * time.Second, true},
		{"anthropic two exhausted: latest", 429, header("anthropic-ratelimit-input-tokens-remaining", "0", "anthropic-ratelimit-input-tokens-reset", "2025-08-21T12:40:20Z",
			"anthropic-ratelimit-output-tokens-remaining", "0", "anthropic-ratelimit-output-tokens-reset", "2025-08-21T12:40:40Z"), 40 * time.Second, true},
		{"anthropic reset in the past", 429, header("anthropic-ratelimit-requests-reset", "2025-08-21T12:39:00Z"), 0, true},
		{"anthropic far future reset is bounded", 429, header("anthropic-ratelimit-requests-reset", "9999-12-31T23:59:59Z"), 365 * 24 * time.Hour, true},
		{"bad reset values ignored", 429, header("anthropic-ratelimit-requests-reset", "tomorrow", "x-ratelimit-reset-requests", "soon"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := rebound.DelayHint(tt.status, tt.h, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("DelayHint = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHTTPError(t *testing.T) {
	// The 429 of anthropics/anthropic-sdk-typescript#357 (docs/provider-errors.md §2.3).
	h := header("x-should-retry", "true", "anthropic-ratelimit-requests-remaining", "0",
		"anthropic-ratelimit-requests-reset", "2025-08-21T12:40:30Z", "request-id", "req_018EeWyXxfu5pfWkrYcMdjWG")
	e := rebound.HTTPError(429, h, now)
	if e.Class != rebound.ClassRateLimited || e.Status != 429 || e.RetryAfter != 30*time.Second ||
		e.ShouldRetry == nil || !*e.ShouldRetry || e.RequestID != "req_018EeWyXxfu5pfWkrYcMdjWG" {
		t.Fatalf("HTTPError = %+v", e)
	}
	if got, want := e.Error(), "rate_limited: status 429 (retry after 30s)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	e.Provider, e.Type, e.Message = "anthropic", "rate_limit_error", "slow down"
	if got, want := e.Error(), "rate_limited from anthropic: status 429 rate_limit_error: slow down (retry after 30s)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	for _, v := range []string{"", "maybe", "1"} {
		if got := rebound.ShouldRetryHeader(header("x-should-retry", v)); got != nil {
			t.Fatalf("x-should-retry %q gave %v, want nil", v, *got)
		}
	}
}

func TestStatusClass(t *testing.T) {
	want := map[int]rebound.Class{
		200: rebound.ClassUnknown, 302: rebound.ClassUnknown, 400: rebound.ClassInvalid, 401: rebound.ClassAuth,
		402: rebound.ClassQuota, 403: rebound.ClassAuth, 404: rebound.ClassInvalid, 408: rebound.ClassTimeout,
		409: rebound.ClassTransient, 413: rebound.ClassContextOverflow, 422: rebound.ClassInvalid,
		429: rebound.ClassRateLimited, 500: rebound.ClassTransient, 501: rebound.ClassTransient,
		502: rebound.ClassTransient, 503: rebound.ClassTransient, 504: rebound.ClassTimeout,
		529: rebound.ClassOverloaded, 600: rebound.ClassUnknown, 0: rebound.ClassUnknown,
	}
	for status, c := range want {
		if got := rebound.StatusClass(status); got != c {
			t.Errorf("StatusClass(%d) = %v, want %v", status, got, c)
		}
	}
}
