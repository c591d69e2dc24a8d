package pipeline

import (
	"context"
	"net/http"

	"github.com/rebound-go/rebound/ratelimit"
)

// PaceFunc waits, before an attempt, for its turn under a rate limit: key is the call's key
// (Call.Key), tokens its estimated cost (Call.Tokens; 0 when only requests are limited). It
// returns once the attempt may be sent, with the function that reports the attempt's response
// (its header, nil when none came; its status, 0 when none came or the attempt was not sent
// after all), which the Pipeline calls exactly once; or, when the turn cannot come in time, an
// error (the context's own, or one saying the turn would pass its deadline, such as
// ratelimit.ErrWouldExceedDeadline). Its wait is never counted as a failure. It is the one
// pacing hook of llm.Config.Pace, httpx.Config.Pace and a tool's pipeline; a limiter shared by
// a fleet of processes (package fleet/redis) has this shape too.
type PaceFunc func(ctx context.Context, key string, tokens int) (report func(h http.Header, status int), err error)

// PaceWith returns the PaceFunc of one limiter for every key: the models of one API key share
// one limiter.
func PaceWith(l *ratelimit.Limiter) PaceFunc {
	return func(ctx context.Context, _ string, tokens int) (func(http.Header, int), error) {
		p, err := l.Wait(ctx, tokens)
		if err != nil {
			return nil, err
		}
		return p.Observe, nil
	}
}

// PacePerKey returns the PaceFunc of the limiter limiter returns for each key (nil: that key
// is not paced), such as one limiter per host.
func PacePerKey(limiter func(key string) *ratelimit.Limiter) PaceFunc {
	return func(ctx context.Context, key string, tokens int) (func(http.Header, int), error) {
		l := limiter(key)
		if l == nil {
			return nil, nil
		}
		p, err := l.Wait(ctx, tokens)
		if err != nil {
			return nil, err
		}
		return p.Observe, nil
	}
}
