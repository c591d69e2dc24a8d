package ratelimit

import (
	"net/http"
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
	r.Requests = anthropicBucket(h, "requests", now)
	r.Tokens = anthropicBucket(h, "tokens", now)
	if !r.Tokens.Known {
		r.Tokens = anthropicBucket(h, "input-tokens", now)
	}
	if !r.Requests.Known {
		r.Requests = openaiBucket(h, "requests", now)
	}
	if !r.Tokens.Known {
		r.Tokens = openaiBucket(h, "tokens", now)
	}
	return r
}

func anthropicBucket(h http.Header, kind string, now time.Time) Bucket {
	p := "anthropic-ratelimit-" + kind + "-"
	b, ok := counts(h.Get(p+"limit"), h.Get(p+"remaining"))
	if !ok {
		return Bucket{}
	}
	b.Reset = now
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(h.Get(p+"reset"))); err == nil && t.After(now) {
		b.Reset = t
	} else if err != nil && b.Remaining < b.Limit {
		// No usable reset: the bucket is taken to refill over a minute, the providers' window.
		b.Reset = now.Add(time.Minute)
	}
	return b
}

func openaiBucket(h http.Header, kind string, now time.Time) Bucket {
	b, ok := counts(h.Get("x-ratelimit-limit-"+kind), h.Get("x-ratelimit-remaining-"+kind))
	if !ok {
		return Bucket{}
	}
	b.Reset = now
	if d, ok := rebound.ParseResetDuration(h.Get("x-ratelimit-reset-" + kind)); ok {
		b.Reset = now.Add(d)
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
