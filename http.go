package rebound

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusClass is the class of an HTTP status alone, for when nothing better is known (a proxy's
// HTML error page has no error type): 408 and 504 ClassTimeout; 409 and other 5xx ClassTransient; 413
// ClassContextOverflow; 429 ClassRateLimited; 529 ClassOverloaded; 402 ClassQuota; 401 and 403 ClassAuth; other 4xx
// ClassInvalid; anything else ClassUnknown. Adapters look at the provider's error type and code first.
func StatusClass(status int) Class {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusGatewayTimeout:
		return ClassTimeout
	case status == http.StatusConflict:
		return ClassTransient
	case status == http.StatusRequestEntityTooLarge:
		return ClassContextOverflow
	case status == http.StatusTooManyRequests:
		return ClassRateLimited
	case status == 529:
		return ClassOverloaded
	case status == http.StatusPaymentRequired:
		return ClassQuota
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return ClassAuth
	case status >= 400 && status < 500:
		return ClassInvalid
	case status >= 500 && status < 600:
		return ClassTransient
	}
	return ClassUnknown
}

// HTTPError builds the *Error for a response with a failing status from its status and headers
// alone, reading clock time as now: the class of the status, the server's delay hint
// (DelayHint), its x-should-retry verdict, and the request ID (request-id or x-request-id).
// Adapters that can read the body refine Class, Type, Code and Message afterwards.
func HTTPError(status int, h http.Header, now time.Time) *Error {
	e := &Error{Class: StatusClass(status), Status: status, ShouldRetry: ShouldRetryHeader(h)}
	if d, ok := DelayHint(status, h, now); ok {
		e.RetryAfter = d
	}
	e.RequestID = h.Get("request-id")
	if e.RequestID == "" {
		e.RequestID = h.Get("x-request-id")
	}
	return e
}

// ShouldRetryHeader returns the server's x-should-retry verdict, which wins over the status:
// nil when the header is absent or neither "true" nor "false".
func ShouldRetryHeader(h http.Header) *bool {
	switch strings.ToLower(strings.TrimSpace(h.Get("x-should-retry"))) {
	case "true":
		v := true
		return &v
	case "false":
		v := false
		return &v
	}
	return nil
}

// DelayHint returns the delay the server asked for, reading clock time as now, in this order:
// retry-after-ms (milliseconds, fractions allowed); retry-after (seconds, or an HTTP date);
// and, on a 429 only, the provider's rate-limit reset headers: Anthropic's
// anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset (RFC 3339 times) and
// OpenAI's x-ratelimit-reset-{requests,tokens} (durations such as "6m0s", "12ms", "1.5s"). Of
// the reset headers, those of an exhausted limit (remaining 0) count, and the latest of them is
// used (every exhausted limit must have reset); when none says which is exhausted, the earliest
// reset is used. A hint in the past is 0. ok is false when no header parses.
func DelayHint(status int, h http.Header, now time.Time) (d time.Duration, ok bool) {
	if d, ok := ParseRetryAfterMS(h.Get("retry-after-ms")); ok {
		return d, true
	}
	if d, ok := ParseRetryAfter(h.Get("retry-after"), now); ok {
		return d, true
	}
	if status != http.StatusTooManyRequests {
		return 0, false
	}
	return ResetHint(h, now)
}

// ResetHint reads the providers' rate-limit reset headers (see DelayHint) regardless of status.
func ResetHint(h http.Header, now time.Time) (time.Duration, bool) {
	var exhausted, any time.Duration
	var haveExhausted, haveAny bool
	note := func(d time.Duration, remaining string) {
		if strings.TrimSpace(remaining) == "0" {
			if !haveExhausted || d > exhausted {
				exhausted, haveExhausted = d, true
			}
		}
		if !haveAny || d < any {
			any, haveAny = d, true
		}
	}
	for _, kind := range [...]string{"requests", "tokens", "input-tokens", "output-tokens"} {
		v := h.Get("anthropic-ratelimit-" + kind + "-reset")
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			continue
		}
		note(min(max(t.Sub(now), 0), maxHint), h.Get("anthropic-ratelimit-"+kind+"-remaining"))
	}
	for _, kind := range [...]string{"requests", "tokens"} {
		d, ok := ParseResetDuration(h.Get("x-ratelimit-reset-" + kind))
		if !ok {
			continue
		}
		note(d, h.Get("x-ratelimit-remaining-"+kind))
	}
	if haveExhausted {
		return exhausted, true
	}
	return any, haveAny
}

// maxHint bounds any parsed hint so that arithmetic on it never overflows: a server asking for
// more than a year is asking for something a retry loop will refuse anyway.
const maxHint = 365 * 24 * time.Hour

// ParseRetryAfterMS parses a retry-after-ms value: non-negative milliseconds, fractions allowed.
func ParseRetryAfterMS(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	ms, err := strconv.ParseFloat(v, 64)
	if err != nil || ms != ms || ms < 0 { // ms != ms: NaN
		return 0, false
	}
	if ms >= float64(maxHint/time.Millisecond) {
		return maxHint, true
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// ParseRetryAfter parses a retry-after value as non-negative seconds (fractions allowed) or an
// HTTP date, reading clock time as now; a date in the past is 0.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s != s || s < 0 {
			return 0, false
		}
		if s >= maxHint.Seconds() {
			return maxHint, true
		}
		return time.Duration(s * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxHint), true
}

// ParseResetDuration parses OpenAI's x-ratelimit-reset-* values: Go-style durations such as
// "6m0s", "12ms", "1.5s", or bare seconds ("20").
func ParseResetDuration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return 0, false
		}
		return min(d, maxHint), true
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s == s && s >= 0 {
		return min(time.Duration(min(s, maxHint.Seconds())*float64(time.Second)), maxHint), true
	}
	return 0, false
}
