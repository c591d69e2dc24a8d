package ratelimit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rebound-go/rebound/ratelimit"
)

func TestParseHeader(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("anthropic-ratelimit-requests-limit", "1000")
	h.Set("anthropic-ratelimit-requests-remaining", "999")
	h.Set("anthropic-ratelimit-requests-reset", "2026-11-28T12:00:05Z")
	h.Set("anthropic-ratelimit-input-tokens-limit", "80000")
	h.Set("anthropic-ratelimit-input-tokens-remaining", "79000")
	h.Set("anthropic-ratelimit-input-tokens-reset", "2026-11-28T12:00:01Z")
	r := ratelimit.ParseHeader(h, now)
	if !r.Requests.Known || r.Requests.Limit != 1000 || r.Requests.Remaining != 999 || !r.Requests.Reset.Equal(now.Add(5*time.Second)) {
		t.Errorf("requests %+v", r.Requests)
	}
	if !r.Tokens.Known || r.Tokens.Limit != 80000 || r.Tokens.Remaining != 79000 {
		t.Errorf("tokens %+v", r.Tokens)
	}

	o := http.Header{}
	o.Set("x-ratelimit-limit-requests", "500")
	o.Set("x-ratelimit-remaining-requests", "499")
	o.Set("x-ratelimit-reset-requests", "120ms")
	o.Set("x-ratelimit-limit-tokens", "30000")
	o.Set("x-ratelimit-remaining-tokens", "29000")
	o.Set("x-ratelimit-reset-tokens", "6m0s")
	r = ratelimit.ParseHeader(o, now)
	if !r.Requests.Reset.Equal(now.Add(120*time.Millisecond)) || !r.Tokens.Reset.Equal(now.Add(6*time.Minute)) || r.Tokens.Remaining != 29000 {
		t.Errorf("openai %+v", r)
	}

	bad := http.Header{}
	bad.Set("x-ratelimit-limit-requests", "many")
	bad.Set("x-ratelimit-remaining-requests", "3")
	if r := ratelimit.ParseHeader(bad, now); r.Requests.Known || r.Tokens.Known {
		t.Errorf("unparsable limit known: %+v", r)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add("20", "3", "2026-11-28T12:00:01Z", "500", "499", "12ms")
	f.Add("-1", "x", "yesterday", "0", "", "6m0s")
	f.Add("9223372036854775807", "9223372036854775807", "9999-12-31T23:59:59Z", "1", "2", "1e300s")
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, al, ar, areset, ol, or, oreset string) {
		h := http.Header{}
		h.Set("anthropic-ratelimit-requests-limit", al)
		h.Set("anthropic-ratelimit-requests-remaining", ar)
		h.Set("anthropic-ratelimit-requests-reset", areset)
		h.Set("x-ratelimit-limit-tokens", ol)
		h.Set("x-ratelimit-remaining-tokens", or)
		h.Set("x-ratelimit-reset-tokens", oreset)
		r := ratelimit.ParseHeader(h, now)
		for _, b := range []ratelimit.Bucket{r.Requests, r.Tokens} {
			if !b.Known {
				continue
			}
			if b.Limit <= 0 || b.Remaining < 0 || b.Remaining > b.Limit || b.Reset.Before(now) {
				t.Fatalf("bad bucket %+v", b)
			}
		}
		// A limiter fed this header must not panic or wait for ever.
		l := ratelimit.New(ratelimit.Config{})
		p, _ := l.AllowAt(now, 10)
		p.ObserveAt(now, h, 200)
		if _, d := l.AllowAt(now, 10); d < 0 {
			t.Fatalf("negative wait %v", d)
		}
	})
}
