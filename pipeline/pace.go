package pipeline

import (
	"context"
	"net/http"
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
