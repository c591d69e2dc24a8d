package fakellm

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// limiter keeps one pair of token buckets (requests, tokens) per API key, as the providers
// limit per organisation/key: a bucket holds up to its burst and refills continuously.
type limiter struct {
	lim     Limit
	mu      sync.Mutex
	buckets map[uint64]*bucket // by a hash of the key: the keys themselves are not kept
}

type bucket struct {
	mu   sync.Mutex
	req  float64
	tok  float64
	last time.Time
}

// maxKeys bounds the number of keys tracked; beyond it, unknown keys share one bucket.
const maxKeys = 10000

func newLimiter(l Limit) *limiter { return &limiter{lim: l, buckets: map[uint64]*bucket{}} }

// quota is a snapshot of a key's buckets for the response headers.
type quota struct {
	enabled              bool
	reqLimit, reqRemain  int64
	reqReset             time.Duration // until the request bucket is full again
	tokLimit, tokRemain  int64
	tokReset             time.Duration
	deniedBy             string        // "requests" or "tokens" when the request was refused
	wait                 time.Duration // how long until the refused request would fit
	tooLarge             bool          // the request needs more tokens than the bucket holds
	reqUsed, tokRequired int64
	reqRate, tokRate     float64 // refill per second, for the messages
	reqBurst, tokBurst   float64
}

func (l *limiter) bucket(apiKey string) *bucket {
	key := fnvAdd(fnvOffset, apiKey)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxKeys {
			key = 0 // the overflow bucket
			if b = l.buckets[key]; b != nil {
				return b
			}
		}
		b = &bucket{req: l.lim.RequestBurst, tok: l.lim.TokenBurst}
		l.buckets[key] = b
	}
	return b
}

// take refills the key's buckets to now and, if the request (one request, inTokens tokens) fits,
// takes it. The result describes the buckets after the decision.
func (l *limiter) take(key string, inTokens int64, now time.Time) quota {
	b := l.bucket(key)
	lim := l.lim
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(lim, now)
	q := quota{enabled: true}
	switch {
	case lim.RequestsPerSec > 0 && b.req < 1:
		q.deniedBy = "requests"
		q.wait = secs((1 - b.req) / lim.RequestsPerSec)
	case lim.TokensPerSec > 0 && float64(inTokens) > lim.TokenBurst:
		q.deniedBy = "tokens"
		q.tooLarge = true
	case lim.TokensPerSec > 0 && b.tok < float64(inTokens):
		q.deniedBy = "tokens"
		q.wait = secs((float64(inTokens) - b.tok) / lim.TokensPerSec)
	default:
		if lim.RequestsPerSec > 0 {
			b.req--
		}
		if lim.TokensPerSec > 0 {
			b.tok -= float64(inTokens)
		}
	}
	q.tokRequired = inTokens
	b.fill(lim, &q)
	return q
}

// spend takes output tokens after the reply (the bucket may go into debt, as the real APIs
// estimate output up front and settle later) and returns the updated snapshot.
func (l *limiter) spend(key string, outTokens int64, now time.Time, q *quota) {
	if l.lim.TokensPerSec == 0 {
		return
	}
	b := l.bucket(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(l.lim, now)
	b.tok -= float64(outTokens)
	if b.tok < -l.lim.TokenBurst {
		b.tok = -l.lim.TokenBurst
	}
	b.fill(l.lim, q)
}

func (b *bucket) refill(lim Limit, now time.Time) {
	if !b.last.IsZero() {
		dt := now.Sub(b.last).Seconds()
		if dt > 0 {
			b.req = math.Min(lim.RequestBurst, b.req+dt*lim.RequestsPerSec)
			b.tok = math.Min(lim.TokenBurst, b.tok+dt*lim.TokensPerSec)
		}
	}
	if now.After(b.last) {
		b.last = now
	}
}

func (b *bucket) fill(lim Limit, q *quota) {
	q.reqRate, q.reqBurst, q.tokRate, q.tokBurst = lim.RequestsPerSec, lim.RequestBurst, lim.TokensPerSec, lim.TokenBurst
	if lim.RequestsPerSec > 0 {
		q.reqLimit = int64(lim.RequestBurst)
		q.reqRemain = int64(math.Max(0, math.Floor(b.req)))
		q.reqUsed = q.reqLimit - q.reqRemain
		q.reqReset = secs((lim.RequestBurst - b.req) / lim.RequestsPerSec)
	}
	if lim.TokensPerSec > 0 {
		q.tokLimit = int64(lim.TokenBurst)
		q.tokRemain = int64(math.Max(0, math.Floor(b.tok)))
		q.tokReset = secs((lim.TokenBurst - b.tok) / lim.TokensPerSec)
	}
}

func secs(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(s * 1e9))
}

// Nominal figures reported when no limit is set: generous, never enforced.
const (
	nominalRequests = 4000
	nominalTokens   = 2000000
)

var (
	nominalReqStr = strconv.Itoa(nominalRequests)
	nominalTokStr = strconv.Itoa(nominalTokens)
)

// rfc3339Cache holds the formatted current second, so that headers cost no formatting per request.
type rfc3339Cache struct {
	v atomic.Pointer[cachedTime]
}

type cachedTime struct {
	sec int64
	s   string
}

func (c *rfc3339Cache) format(t time.Time) string {
	sec := t.Unix()
	if p := c.v.Load(); p != nil && p.sec == sec {
		return p.s
	}
	p := &cachedTime{sec: sec, s: time.Unix(sec, 0).UTC().Format(time.RFC3339)}
	c.v.Store(p)
	return p.s
}

// resetTime formats now+d, rounded up to the second, as RFC 3339.
func (c *rfc3339Cache) resetTime(now time.Time, d time.Duration) string {
	t := now.Add(d)
	if t.Nanosecond() != 0 {
		t = t.Truncate(time.Second).Add(time.Second)
	}
	if d == 0 {
		return c.format(now)
	}
	return t.UTC().Format(time.RFC3339)
}

// goDuration formats a reset delay the way OpenAI does: Go duration strings such as "6m0s",
// "12ms", "1.5s", rounded to the millisecond.
func goDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return d.Round(time.Millisecond).String()
}
