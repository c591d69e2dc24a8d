package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
)

// Defaults of Config.
const (
	DefaultAttemptTimeout = 30 * time.Second
	// maxBuffered bounds the body kept of a failing response that may be retried.
	maxBuffered = 1 << 20
	// maxLimiters is the number of hosts' limiters kept before idle ones are forgotten, and
	// limiterIdle how long a limiter must have gone unused to be forgotten: an agent's tools may
	// call any number of hosts.
	maxLimiters = 1024
	limiterIdle = 5 * time.Minute
)

// Config configures a Transport. Its zero value works.
type Config struct {
	// Base sends the requests. Nil: http.DefaultTransport.
	Base http.RoundTripper
	// Retry is the retry policy. Zero: retry's defaults (5 attempts in all, base 1 s, cap 60 s,
	// full jitter, server delay hints honoured). Its Name is set to the host's key
	// ("http/api.example.com") and Hook is added to its Hook. Budget, when nil, is one
	// retry.Budget shared by every host of this Transport.
	Retry retry.Policy
	// Breakers is the set the per-host breakers come from, keyed "http/" + host. Nil: a new
	// Set with Breaker's settings.
	Breakers *breaker.Set
	// Breaker is the settings of the breakers of a Set created because Breakers is nil. Zero:
	// breaker's defaults. Hook is added to its Hook. Settings out of range are New's error.
	Breaker breaker.Settings
	// BreakerFor, if set, returns the breaker of a host key instead of Breakers: a breaker fed
	// by a fleet's evidence (package fleet/redis) plugs in here. See pipeline.Breaker.
	BreakerFor func(key string) pipeline.Breaker
	// Limiter returns the rate limiter of a host key (nil: no pacing for that host). Nil: one
	// ratelimit.Limiter per host, created on first use, paced from the rate-limit headers the
	// host sends (none: no pacing, but a 429 blocks the host for its retry-after); beyond 1024
	// hosts, those not called for 5 minutes are forgotten.
	Limiter func(key string) *ratelimit.Limiter
	// Pace, if set, paces the requests instead of Limiter, with the host's key and 0 tokens: a
	// limiter shared by a fleet of processes (package fleet/redis) plugs in here. It is the
	// pacing hook of llm.Config.Pace and of every pipeline (see pipeline.PaceFunc).
	Pace pipeline.PaceFunc
	// AttemptTimeout bounds each attempt until the response's headers arrive (the body is then
	// the caller's to read). Default 30 s; negative: none.
	AttemptTimeout time.Duration
	// RetryNonIdempotent retries POST and PATCH requests too. Default false: they are retried
	// only when they carry an Idempotency-Key header (a retry may repeat their effect).
	RetryNonIdempotent bool
	// Hook receives the retry events (attempt_failed, retry_scheduled, gave_up) and the
	// breaker's (breaker_changed), each naming the host key.
	Hook rebound.Hook
}

// Transport is an http.RoundTripper that classifies every response and transport failure
// (rebound.HTTPError, rebound.Classify), retries what a retry can mend (rewinding request
// bodies with GetBody), guards each host with a circuit breaker and paces each host under its
// rate limit, through the attempt pipeline (package pipeline; the order is in docs/design.md,
// "The attempt pipeline"). Put it in any http.Client.
//
// A response with a failing status that is not retried (a 404, a 503 with x-should-retry:
// false) is returned as it is, as is the last one when the retries are used up, so the client
// sees what the server said. A transport failure that is not mended, an open breaker, and a
// pacing wait that would pass the request's deadline are errors (the breaker's matches
// rebound.ErrCircuitOpen).
type Transport struct {
	cfg      Config
	base     http.RoundTripper
	pipe     *pipeline.Pipeline
	mu       sync.Mutex
	limiters map[string]*hostLimiter
	sweepAt  int // the size of limiters at which idle ones are next forgotten
}

// hostLimiter is a host's limiter and when it was last used.
type hostLimiter struct {
	l    *ratelimit.Limiter
	used time.Time
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport with c's defaults filled in, or an error naming a breaker or retry
// setting out of range.
func New(c Config) (*Transport, error) {
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	t := &Transport{cfg: c, base: c.Base, limiters: map[string]*hostLimiter{}}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	// The attempt timeout is the Transport's own: it ends when the headers arrive, and the body
	// is then the caller's to read.
	p, err := pipeline.New(pipeline.Config{
		Retry: c.Retry, Breakers: c.Breakers, Breaker: c.Breaker, BreakerFor: c.BreakerFor,
		Limiter: t.limiter, Pace: c.Pace, Hook: c.Hook,
	})
	if err != nil {
		return nil, fmt.Errorf("httpx: %w", err)
	}
	t.pipe = p
	return t, nil
}

// Key returns the key of a request's host: "http/" followed by the URL's host (with its port,
// if any). It names the host's breaker, limiter and events.
func Key(req *http.Request) string { return "http/" + req.URL.Host }

func (t *Transport) limiter(key string) *ratelimit.Limiter {
	if t.cfg.Limiter != nil {
		return t.cfg.Limiter(key)
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.limiters[key]
	if e == nil {
		if len(t.limiters) >= max(maxLimiters, t.sweepAt) {
			// Forget the hosts not called for a while (a call in flight keeps its permit). The
			// next sweep waits until the map has doubled, so sweeps cost O(1) a host.
			for k, v := range t.limiters {
				if now.Sub(v.used) >= limiterIdle {
					delete(t.limiters, k)
				}
			}
			t.sweepAt = 2 * len(t.limiters)
		}
		e = &hostLimiter{l: ratelimit.New(ratelimit.Config{Name: key})}
		t.limiters[key] = e
	}
	e.used = now
	return e.l
}

var errAttemptTimeout = errors.New("no response headers in time")

// RoundTrip sends req under the retry policy, the host's breaker and the host's limiter.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	key := Key(req)
	call := pipeline.Call[*http.Response]{Key: key, Response: responseOf}
	if !t.replayable(req) {
		call.MaxAttempts = 1
	}
	sent := false // req.Body went to the base transport, which closes it
	if req.Body != nil && req.Body != http.NoBody {
		defer func() {
			if !sent {
				req.Body.Close() // a RoundTripper closes the body, even on errors
			}
		}()
	}
	resp, err := pipeline.Do(ctx, t.pipe, call, func(ctx context.Context) (*http.Response, error) {
		r := req.Clone(ctx)
		if sent && req.Body != nil && req.Body != http.NoBody {
			// A retry sends a rewound copy; the first attempt sent req.Body itself.
			body, err := req.GetBody()
			if err != nil {
				return nil, rebound.Permanent(fmt.Errorf("rewind request body: %w", err))
			}
			r.Body = body
		}
		actx, cancel := context.WithCancelCause(ctx)
		var timer *time.Timer
		if t.cfg.AttemptTimeout > 0 {
			timer = time.AfterFunc(t.cfg.AttemptTimeout, func() { cancel(errAttemptTimeout) })
		}
		sent = true
		res, err := t.base.RoundTrip(r.WithContext(actx))
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			if ctx.Err() == nil && context.Cause(actx) == errAttemptTimeout {
				err = &rebound.Error{Class: rebound.ClassTimeout, Provider: key, Message: fmt.Sprintf("%s after %s", errAttemptTimeout, t.cfg.AttemptTimeout), Err: err}
			}
			cancel(nil)
			return nil, err
		}
		if res.StatusCode < 400 {
			res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: func() { cancel(nil) }}
			return res, nil
		}
		e := rebound.HTTPError(res.StatusCode, res.Header, time.Now())
		e.Provider = key
		e.Message = res.Status
		if !rebound.Retriable(e) {
			// Not retried: the caller gets the response as it came (the pipeline still counts
			// its status as a failure for the breaker).
			res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: func() { cancel(nil) }}
			return res, nil
		}
		body, rerr := io.ReadAll(io.LimitReader(res.Body, maxBuffered))
		res.Body.Close()
		cancel(nil)
		f := &failedResponse{err: e, header: res.Header, status: res.StatusCode}
		if rerr == nil {
			res.Body = io.NopCloser(bytes.NewReader(body))
			res.ContentLength = int64(len(body))
			f.res = res
		}
		return nil, f
	})
	if err != nil && ctx.Err() == nil {
		// The last failing response, if it was kept, is what the server said: the caller gets it.
		var f *failedResponse
		if errors.As(err, &f) && f.res != nil {
			return f.res, nil
		}
	}
	return resp, err
}

// failedResponse is the failure of an attempt answered with a retriable failing status: the
// classified error, with the response (its body buffered; nil if it could not be read) for the
// caller should the retries end there.
type failedResponse struct {
	err    *rebound.Error
	header http.Header
	status int
	res    *http.Response
}

func (f *failedResponse) Error() string { return f.err.Error() }
func (f *failedResponse) Unwrap() error { return f.err }

// responseOf is what an attempt's response tells the limiter: its header and status (nil and
// 0 when none came).
func responseOf(res *http.Response, err error) (http.Header, int) {
	if res != nil {
		return res.Header, res.StatusCode
	}
	var f *failedResponse
	if errors.As(err, &f) {
		return f.header, f.status
	}
	return nil, 0
}

// replayable reports whether req may be sent again: its body can be rewound, and its method is
// idempotent (or the Transport retries every method, or the request has an Idempotency-Key).
func (t *Transport) replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return t.cfg.RetryNonIdempotent || req.Header.Get("Idempotency-Key") != ""
}

// cancelOnClose ends the attempt's context when the caller closes the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
