package ratelimit_test

import (
	"testing"
	"time"

	"github.com/rebound-go/rebound/ratelimit"
)

// TestHeadersStop: a provider that stops sending rate-limit headers after a first report (a
// proxy in front of it, say) leaves the limiter with a report that goes stale. Once its reset has
// passed and later responses came without headers, the limiter stops pacing from it, as it does
// for a provider that never sent headers, instead of counting every later call against it for
// ever.
func TestHeadersStop(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Reserve: -1})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, _ := l.AllowAt(now, 0)
	p.ObserveAt(now, anthropicHeader(20, 19, now.Add(time.Second)), 200)
	admitted := 0
	for i := range 2000 {
		at := now.Add(time.Duration(i) * 10 * time.Millisecond)
		p, d := l.AllowAt(at, 0)
		if d != 0 {
			continue
		}
		admitted++
		p.ObserveAt(at, nil, 200)
	}
	// 20 s at one call per 10 ms: the stale report may hold calls back for its first second
	// only.
	if admitted < 1800 {
		t.Fatalf("admitted %d of 2000 calls after the headers stopped", admitted)
	}
}
