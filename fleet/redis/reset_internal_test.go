package fleetredis

import (
	"testing"
	"time"

	"github.com/rebound-go/rebound/ratelimit"
)

// TestResetMSRoundsUp: the reset crosses to Redis in whole milliseconds, never shorter than the
// provider's figures (a shorter reset proves a faster refill): 50.7 ms is 51, not 50; a duration
// sent rounded to the millisecond may be half a millisecond short; a reset already past is 0.
func TestResetMSRoundsUp(t *testing.T) {
	at := time.Date(2026, 12, 2, 0, 0, 0, 949_300_000, time.UTC)
	for _, c := range []struct {
		name string
		b    ratelimit.Bucket
		want int64
	}{
		{"anthropic 50.7 ms", ratelimit.Bucket{Reset: at.Add(50700 * time.Microsecond)}, 51},
		{"anthropic whole ms", ratelimit.Bucket{Reset: at.Add(50 * time.Millisecond)}, 50},
		{"openai 50ms", ratelimit.Bucket{Reset: at.Add(50 * time.Millisecond), ResetIn: 50 * time.Millisecond}, 51},
		{"past", ratelimit.Bucket{Reset: at.Add(-time.Millisecond)}, 0},
	} {
		if got := resetMS(c.b, at); got != c.want {
			t.Errorf("%s: resetMS = %d, want %d", c.name, got, c.want)
		}
	}
}
