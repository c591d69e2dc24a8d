package ratelimit

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
)

// Report is what one response says about a key's limits.
type Report struct {
	Requests, Tokens Bucket
}

// Bucket is one limit as a response reports it.
type Bucket struct {
	// Known is false when the response said nothing about this limit.
	Known bool
	// Limit is the bucket's capacity; Remaining what it holds now.
	Limit, Remaining int64
	// Reset is when the bucket will be full again.
	Reset time.Time
	// ResetIn is the reset as the provider sent it when it is a duration (OpenAI's), counted
	// from when the provider took its figures; 0 for an absolute time (Anthropic's).
	ResetIn time.Duration
	// ResetAt is the reset as the provider sent it when it is an absolute time (Anthropic's),
	// even when it has passed by the time the response is read (Reset is then now); zero
	// otherwise. With answers slower than a second, a reset rounded up to the second has
	// usually passed, and only the time sent says how soon after the call the bucket was full.
	ResetAt time.Time
}

// ParseHeader reads the rate-limit headers of a response received at now: Anthropic's
// anthropic-ratelimit-{requests,tokens,input-tokens}-{limit,remaining,reset} (reset an RFC 3339
// time) and OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} (reset a duration
// such as "6m0s" or "12ms"). For tokens, Anthropic's combined tokens limit is preferred to the
// input-tokens one. A limit whose limit or remaining does not parse is not Known.
func ParseHeader(h http.Header, now time.Time) Report {
	var r Report
	if h == nil {
		return r
	}
	r.Requests = anthropicBucket(h, anthropicRequests, now)
	r.Tokens = anthropicBucket(h, anthropicTokens, now)
	if !r.Tokens.Known {
		r.Tokens = anthropicBucket(h, anthropicInputTokens, now)
	}
	if !r.Requests.Known {
		r.Requests = openaiBucket(h, openaiRequests, now)
	}
	if !r.Tokens.Known {
		r.Tokens = openaiBucket(h, openaiTokens, now)
	}
	return r
}

// headerKeys are the canonical names of one limit's three headers.
type headerKeys struct{ limit, remaining, reset string }

func keys(limit, remaining, reset string) headerKeys {
	return headerKeys{
		textproto.CanonicalMIMEHeaderKey(limit),
		textproto.CanonicalMIMEHeaderKey(remaining),
		textproto.CanonicalMIMEHeaderKey(reset),
	}
}

var (
	anthropicRequests    = keys("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset")
	anthropicTokens      = keys("anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset")
	anthropicInputTokens = keys("anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset")
	openaiRequests       = keys("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
	openaiTokens         = keys("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
)

// get returns the first value of a header by its canonical name, without canonicalising again.
func get(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func anthropicBucket(h http.Header, k headerKeys, now time.Time) Bucket {
	b, ok := counts(get(h, k.limit), get(h, k.remaining))
	if !ok {
		return Bucket{}
	}
	b.Reset = now
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(get(h, k.reset)))
	if err == nil {
		b.ResetAt = t
	}
	if err == nil && t.After(now) {
		b.Reset = t
	} else if err != nil && b.Remaining < b.Limit {
		// No usable reset: the bucket is taken to refill over a minute, the providers' window.
		b.Reset = now.Add(time.Minute)
	}
	return b
}

func openaiBucket(h http.Header, k headerKeys, now time.Time) Bucket {
	b, ok := counts(get(h, k.limit), get(h, k.remaining))
	if !ok {
		return Bucket{}
	}
	b.Reset = now
	if d, ok := rebound.ParseResetDuration(get(h, k.reset)); ok {
		b.Reset, b.ResetIn = now.Add(d), d
	} else if b.Remaining < b.Limit {
		b.Reset = now.Add(time.Minute)
	}
	return b
}

func counts(limit, remaining string) (Bucket, bool) {
	l, err1 := strconv.ParseInt(strings.TrimSpace(limit), 10, 64)
	r, err2 := strconv.ParseInt(strings.TrimSpace(remaining), 10, 64)
	if err1 != nil || err2 != nil || l <= 0 || r < 0 {
		return Bucket{}, false
	}
	return Bucket{Known: true, Limit: l, Remaining: min(r, l)}, true
}
