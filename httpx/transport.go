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
	// breaker's defaults. Hook is added to its Hook.
	Breaker breaker.Settings
	// Limiter returns the rate limiter of a host key (nil: no pacing for that host). Nil: one
	// ratelimit.Limiter per host, created on first use, paced from the rate-limit headers the
	// host sends (none: no pacing, but a 429 blocks the host for its retry-after); beyond 1024
	// hosts, those not called for 5 minutes are forgotten.
	Limiter func(key string) *ratelimit.Limiter
	// Pace, if set, paces the requests instead of Limiter, with the host's key: a limiter
	// shared by a fleet of processes (package fleet/redis) plugs in here. It waits for the
	// request's turn and returns the function that reports the response (header and status; nil
	// and 0 when none came), which the Transport calls exactly once.
	Pace func(ctx context.Context, key string) (report func(h http.Header, status int), err error)
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
// rate limit. Put it in any http.Client.
//
// A response with a failing status that is not retried (a 404, a 503 with x-should-retry:
// false) is returned as it is, as is the last one when the retries are used up, so the client
// sees what the server said. A transport failure that is not mended, an open breaker, and a
// pacing wait that would pass the request's deadline are errors (the breaker's matches
// rebound.ErrCircuitOpen).
type Transport struct {
	cfg      Config
	base     http.RoundTripper
	policy   retry.Policy
	breakers *breaker.Set
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

// New returns a Transport with c's defaults filled in, or an error naming a breaker setting out
// of range.
func New(c Config) (*Transport, error) {
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	t := &Transport{cfg: c, base: c.Base, breakers: c.Breakers, limiters: map[string]*hostLimiter{}}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	if t.breakers == nil {
		s := c.Breaker
		s.Hook = rebound.Hooks(s.Hook, c.Hook)
		set, err := breaker.NewSet(breaker.SetConfig{Settings: s})
		if err != nil {
			return nil, fmt.Errorf("httpx: %w", err)
		}
		t.breakers = set
	}
	t.policy = c.Retry
	t.policy.Hook = rebound.Hooks(t.policy.Hook, c.Hook)
	if t.policy.Budget == nil {
		t.policy.Budget = new(retry.Budget)
	}
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
	b := t.breakers.Get(key)
	var lim *ratelimit.Limiter
	if t.cfg.Pace == nil {
		lim = t.limiter(key)
	}
	p := t.policy
	p.Name = key
	if !t.replayable(req) {
		p.MaxAttempts = 1
	}
	var last *http.Response // the failing response of the latest attempt, buffered
	attempt := 0
	sent := false // req.Body went to the base transport, which closes it
	if req.Body != nil && req.Body != http.NoBody {
		defer func() {
			if !sent {
				req.Body.Close() // a RoundTripper closes the body, even on errors
			}
		}()
	}
	resp, err := retry.Do(ctx, p, func(ctx context.Context) (*http.Response, error) {
		attempt++
		last = nil
		r := req.Clone(ctx)
		if attempt > 1 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, rebound.Permanent(fmt.Errorf("rewind request body: %w", err))
			}
			r.Body = body
		}
		bp, err := b.Allow()
		if err != nil {
			return nil, err
		}
		report := func(http.Header, int) {}
		if t.cfg.Pace != nil {
			report, err = t.cfg.Pace(ctx, key)
		} else if lim != nil {
			var lp ratelimit.Permit
			lp, err = lim.Wait(ctx, 0)
			report = lp.Observe
		}
		if err != nil {
			bp.Record(time.Now(), false, rebound.ClassCanceled) // neutral: the host was not asked
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, rebound.Permanent(&rebound.Error{Class: rebound.ClassRateLimited, Provider: key, Message: "not sent: " + err.Error(), Err: err})
		}
		if report == nil {
			report = func(http.Header, int) {}
		}
		actx, cancel := context.WithCancelCause(ctx)
		var timer *time.Timer
		if t.cfg.AttemptTimeout > 0 {
			timer = time.AfterFunc(t.cfg.AttemptTimeout, func() { cancel(errAttemptTimeout) })
		}
		if attempt == 1 { // the first attempt sends req.Body itself; later ones a rewound copy
			sent = true
		}
		res, err := t.base.RoundTrip(r.WithContext(actx))
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			if ctx.Err() == nil && context.Cause(actx) == errAttemptTimeout {
				err = &rebound.Error{Class: rebound.ClassTimeout, Provider: key, Message: fmt.Sprintf("%s after %s", errAttemptTimeout, t.cfg.AttemptTimeout), Err: err}
			}
			cancel(nil)
			report(nil, 0)
			return nil, bp.DoneContext(ctx, err) // retry stops the moment the breaker opens
		}
		report(res.Header, res.StatusCode)
		if res.StatusCode < 400 {
			bp.DoneContext(ctx, nil)
			res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: func() { cancel(nil) }}
			return res, nil
		}
		e := rebound.HTTPError(res.StatusCode, res.Header, time.Now())
		e.Provider = key
		e.Message = res.Status
		opened := bp.DoneContext(ctx, e)
		if !rebound.Retriable(e) {
			// Not retried: the caller gets the response as it came.
			res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: func() { cancel(nil) }}
			return res, nil
		}
		body, rerr := io.ReadAll(io.LimitReader(res.Body, maxBuffered))
		res.Body.Close()
		cancel(nil)
		if rerr == nil {
			res.Body = io.NopCloser(bytes.NewReader(body))
			res.ContentLength = int64(len(body))
			last = res
		}
		return nil, opened // retry stops the moment the breaker opens
	})
	if err != nil && last != nil && ctx.Err() == nil {
		return last, nil
	}
	return resp, err
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
