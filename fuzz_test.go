package rebound_test

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
)

// maxHint is the bound every parsed hint stays under (a year).
const maxHint = 365 * 24 * time.Hour

// hint checks what every hint parser promises of its answer d, ok for v: no hint is zero, a
// hint lies in [0, maxHint]. It reports whether there is a hint to check further.
func hint(t *testing.T, parser, v string, d time.Duration, ok bool) bool {
	t.Helper()
	if !ok {
		if d != 0 {
			t.Fatalf("%s(%q) = %v with ok false", parser, v, d)
		}
		return false
	}
	if d < 0 || d > maxHint {
		t.Fatalf("%s(%q) = %v, outside [0, %v]", parser, v, d, maxHint)
	}
	return true
}

// Seeds live in testdata/fuzz/<FuzzName>; run with go test -fuzz FuzzParseRetryAfter.

func FuzzParseRetryAfterMS(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := rebound.ParseRetryAfterMS(v)
		if !hint(t, "ParseRetryAfterMS", v, d, ok) {
			return
		}
		// A plain count of milliseconds means exactly that.
		if n, err := strconv.ParseUint(v, 10, 32); err == nil && d != time.Duration(n)*time.Millisecond {
			t.Fatalf("ParseRetryAfterMS(%q) = %v, want %dms", v, d, n)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		now := time.Unix(nowUnix%(1<<40), 0)
		d, ok := rebound.ParseRetryAfter(v, now)
		if !hint(t, "ParseRetryAfter", v, d, ok) {
			return
		}
		if n, err := strconv.ParseUint(v, 10, 24); err == nil && d != time.Duration(n)*time.Second {
			t.Fatalf("ParseRetryAfter(%q) = %v, want %ds", v, d, n)
		}
		if at, err := http.ParseTime(v); err == nil {
			want := min(max(at.Sub(now), 0), maxHint)
			if d != want {
				t.Fatalf("ParseRetryAfter(%q) at %v = %v, want %v", v, now, d, want)
			}
		}
	})
}

func FuzzParseResetDuration(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := rebound.ParseResetDuration(v)
		if !hint(t, "ParseResetDuration", v, d, ok) {
			return
		}
		// What time.Duration.String writes, it reads back.
		if pd, err := time.ParseDuration(v); err == nil && pd >= 0 && pd <= maxHint && d != pd {
			t.Fatalf("ParseResetDuration(%q) = %v, want %v", v, d, pd)
		}
	})
}

func FuzzDelayHint(f *testing.F) {
	f.Fuzz(func(t *testing.T, status int, retryAfterMS, retryAfter, anthropicReset, anthropicRemaining, openaiReset, openaiRemaining string) {
		h := http.Header{}
		set := func(k, v string) {
			if v != "" {
				h[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
		set("retry-after-ms", retryAfterMS)
		set("retry-after", retryAfter)
		set("anthropic-ratelimit-tokens-reset", anthropicReset)
		set("anthropic-ratelimit-tokens-remaining", anthropicRemaining)
		set("x-ratelimit-reset-requests", openaiReset)
		set("x-ratelimit-remaining-requests", openaiRemaining)
		d, ok := rebound.DelayHint(status, h, now)
		if d < 0 || d > maxHint || !ok && d != 0 {
			t.Fatalf("DelayHint(%d, %v) = %v, %v", status, h, d, ok)
		}
		if ms, msOK := rebound.ParseRetryAfterMS(retryAfterMS); msOK && d != ms {
			t.Fatalf("DelayHint ignored retry-after-ms %q: %v, want %v", retryAfterMS, d, ms)
		}
		e := rebound.HTTPError(status, h, now)
		if e.Status != status || e.RetryAfter != d || e.Class != rebound.StatusClass(status) {
			t.Fatalf("HTTPError(%d) = %+v, hint %v", status, e, d)
		}
		if c, cd := rebound.Classify(e); c != e.Class || cd != d {
			t.Fatalf("Classify(HTTPError) = %v, %v; want %v, %v", c, cd, e.Class, d)
		}
		// Arithmetic on any hint must not overflow: a retry loop adds jitter to it.
		if float64(d)*2 > math.MaxInt64 {
			t.Fatalf("hint %v leaves no room for jitter", d)
		}
	})
}
