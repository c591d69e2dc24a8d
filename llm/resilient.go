package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
)

// Defaults of Config.
const (
	DefaultAttemptTimeout    = 2 * time.Minute
	DefaultStreamTimeout     = 10 * time.Minute
	DefaultFirstTokenTimeout = 30 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
)

// Config configures Resilient. Its zero value gives the defaults of docs/architecture.md
// ("Defaults"); docs/design.md says where they depart from the design notes.
type Config struct {
	// Retry is the retry policy of every call: what is retried, how long it waits. Zero: 5
	// attempts in all, base 1 s, factor 2, cap 60 s, full jitter; a server's delay hint is
	// honoured, and one longer than Cap gives up at once. Its Name is set to the model's Name
	// and Config.Hook is added to its Hook. Its Budget, when nil, is a new retry.Budget for this
	// model alone: share one *retry.Budget between the models of a process (set it here on
	// each) so that an outage is not multiplied by retries. Retries after a rate_limited failure
	// do not draw on the budget (unless FreeRetry says otherwise): the limiter paces them, and a
	// call is never given up merely because the limit is busy.
	Retry retry.Policy
	// Breakers is the set of circuit breakers the model's breaker comes from (keyed by the
	// model's Name). Share one *breaker.Set between every Resilient of a process, so that two
	// wrappers of one model share one breaker and a dashboard can list them; its breakers report
	// to the Hook of its own settings (Config.Hook is not added to a Set passed in). Nil: a new
	// Set per Resilient call, with Breaker's settings.
	Breakers *breaker.Set
	// Breaker is the settings of the breakers of a Set created because Breakers is nil. Zero:
	// breaker's defaults (open after 5 failures in a row or a 50 % failure rate, a probe every
	// 1–1.2 s while open, 2 successful probes to close; 429s are not failures). Config.Hook
	// is added to its Hook. Settings out of range are Resilient's error.
	Breaker breaker.Settings
	// BreakerFor, if set, is the breaker the calls are admitted by and report to, instead of
	// the model's breaker in Breakers: a breaker fed by a fleet's evidence (package fleet/redis)
	// plugs in here, given the model's Name. See pipeline.Breaker.
	BreakerFor func(key string) pipeline.Breaker
	// Limiter paces the calls so that they stay under the provider's rate limit, learning it
	// from the rate-limit headers of every response and from 429s. Share one Limiter between
	// every model that uses one key and limit. Nil: a new ratelimit.Limiter per Resilient call.
	// Ignored when Pace is set.
	Limiter *ratelimit.Limiter
	// Pace, if set, paces the calls instead of Limiter, with the model's Name as key and
	// Request.EstimatedTokens as tokens: a limiter shared by a fleet of processes (package
	// fleet/redis) plugs in here. Nil: Limiter paces.
	Pace pipeline.PaceFunc
	// AttemptTimeout bounds each attempt of Generate: a class timeout failure, retried and
	// counted by the breaker. Default 2 minutes; negative: none.
	AttemptTimeout time.Duration
	// StreamTimeout bounds each attempt of Stream as a whole. Default 10 minutes; negative: none.
	StreamTimeout time.Duration
	// FirstTokenTimeout bounds the wait for a stream's first content delta. Default 30 s;
	// negative: none.
	FirstTokenTimeout time.Duration
	// IdleTimeout bounds the silence between two content deltas of a stream, counted from when
	// onDelta returns (a slow consumer is not the provider's silence). Default 30 s; negative:
	// none.
	IdleTimeout time.Duration
	// Hook receives the events of the retries (attempt_failed, retry_scheduled, gave_up) and of
	// the breaker (breaker_changed), each naming the model. Nil: none (a rebound.Scope's hook in
	// the context still receives them).
	Hook rebound.Hook
}

// ResilientModel is a Model whose calls are paced, bounded in time, guarded by a breaker and
// retried. Build it with Resilient.
type ResilientModel struct {
	inner   Model
	cfg     Config
	pipe    *pipeline.Pipeline
	breaker *breaker.Breaker
}

var _ Model = (*ResilientModel)(nil)

// Resilient wraps m so that every call goes through the attempt pipeline (package pipeline;
// the order is in docs/design.md, "The attempt pipeline"), outermost first:
//
//	retry        the policy of Config.Retry, with its budget; stops at once on an open breaker,
//	             and on what a retry cannot mend (quota, auth, invalid, context_overflow,
//	             content_policy), so that a Fallback moves on without waiting through backoff
//	pacing       the wait for the rate limit (Config.Limiter or Pace), bounded by ctx's deadline and
//	             never counted as a failure; an open breaker refuses before it
//	breaker      m's breaker from Config.Breakers (keyed by m.Name()), or Config.BreakerFor's,
//	             admitting the attempt as it is sent
//	timeout      the attempt's own deadline (Config.AttemptTimeout; for streams
//	             StreamTimeout, FirstTokenTimeout and IdleTimeout): class timeout
//	m            the call
//
// A failed stream's partial output is never returned: Stream returns the Response of the
// attempt that completed, and tells onDelta to discard what the failed attempts delivered
// (Delta.Restart). Resilient returns an error naming the setting when Config.Breaker's
// settings or Config.Retry are out of range.
func Resilient(m Model, c Config) (*ResilientModel, error) {
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.StreamTimeout == 0 {
		c.StreamTimeout = DefaultStreamTimeout
	}
	if c.FirstTokenTimeout == 0 {
		c.FirstTokenTimeout = DefaultFirstTokenTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Breakers == nil {
		s := c.Breaker
		s.Hook = rebound.Hooks(s.Hook, c.Hook)
		set, err := breaker.NewSet(breaker.SetConfig{Settings: s})
		if err != nil {
			return nil, fmt.Errorf("llm.Resilient(%s): breaker settings: %w", m.Name(), err)
		}
		c.Breakers = set
	}
	var limiter func(string) *ratelimit.Limiter
	if c.Pace == nil {
		if c.Limiter == nil {
			c.Limiter = ratelimit.New(ratelimit.Config{Name: m.Name()})
		}
		l := c.Limiter
		limiter = func(string) *ratelimit.Limiter { return l }
	}
	p, err := pipeline.New(pipeline.Config{
		Name: m.Name(), Retry: c.Retry, Breakers: c.Breakers, BreakerFor: c.BreakerFor,
		Limiter: limiter, Pace: c.Pace, AttemptTimeout: c.AttemptTimeout, Hook: c.Hook,
	})
	if err != nil {
		return nil, fmt.Errorf("llm.Resilient(%s): %w", m.Name(), err)
	}
	return &ResilientModel{inner: m, cfg: c, pipe: p, breaker: c.Breakers.Get(m.Name())}, nil
}

// Name returns the wrapped model's Name.
func (r *ResilientModel) Name() string { return r.inner.Name() }

// ContextWindow returns the wrapped model's ContextWindow.
func (r *ResilientModel) ContextWindow() int { return r.inner.ContextWindow() }

// Unwrap returns the wrapped model.
func (r *ResilientModel) Unwrap() Model { return r.inner }

// Breaker returns the model's circuit breaker.
func (r *ResilientModel) Breaker() *breaker.Breaker { return r.breaker }

// Generate calls the model's Generate under the composition described at Resilient. On failure
// the error is a *rebound.GiveUpError saying why it stopped, with the last attempt's error.
func (r *ResilientModel) Generate(ctx context.Context, req Request) (*Response, error) {
	call := pipeline.Call[*Response]{Tokens: req.EstimatedTokens(), Response: responseOf}
	return pipeline.Do(ctx, r.pipe, call, func(ctx context.Context) (*Response, error) {
		return r.inner.Generate(ctx, req)
	})
}

// Stream calls the model's Stream under the composition described at Resilient, with the
// first-token and idle timeouts. onDelta receives the deltas of every attempt as they arrive;
// before the first delta of an attempt that follows one that delivered something, it receives
// a Delta with Restart set: what came before must be discarded.
func (r *ResilientModel) Stream(ctx context.Context, req Request, onDelta func(Delta)) (*Response, error) {
	delivered := false
	call := pipeline.Call[*Response]{Tokens: req.EstimatedTokens(), Timeout: r.cfg.StreamTimeout, Response: responseOf}
	return pipeline.Do(ctx, r.pipe, call, func(ctx context.Context) (*Response, error) {
		restart := delivered
		forward := func(d Delta) {
			if onDelta == nil {
				return
			}
			if restart {
				restart = false
				onDelta(Delta{Restart: true})
			}
			if d.Text != "" {
				delivered = true
			}
			onDelta(d)
		}
		return r.streamAttempt(ctx, req, forward)
	})
}

// responseOf is what an attempt's response tells the limiter: its header and status.
func responseOf(resp *Response, err error) (http.Header, int) {
	if err != nil {
		return ResponseHeader(err), statusOf(err)
	}
	if resp == nil {
		return nil, http.StatusOK
	}
	return resp.Header, http.StatusOK
}

func statusOf(err error) int {
	var e *rebound.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// errNoFirstToken and errIdle are the causes with which the stream watchdog ends an attempt.
var (
	errNoFirstToken = errors.New("no first token in time")
	errIdle         = errors.New("stream idle too long")
)

// streamAttempt runs one streaming attempt under the first-token and idle watchdog.
func (r *ResilientModel) streamAttempt(ctx context.Context, req Request, forward func(Delta)) (*Response, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	first, idle := r.cfg.FirstTokenTimeout, r.cfg.IdleTimeout
	var watchdog *time.Timer
	if first > 0 {
		watchdog = time.AfterFunc(first, func() { cancel(errNoFirstToken) })
	}
	resp, err := r.inner.Stream(actx, req, func(d Delta) {
		if watchdog != nil {
			watchdog.Stop()
			watchdog = nil
		}
		// The idle timeout measures the provider's silence: it starts once the caller's
		// onDelta has returned, so that a slow consumer does not fail a live stream.
		forward(d)
		if idle > 0 {
			watchdog = time.AfterFunc(idle, func() { cancel(errIdle) })
		}
	})
	if watchdog != nil {
		watchdog.Stop()
	}
	if err != nil {
		if ctx.Err() == nil {
			if cause := context.Cause(actx); cause == errNoFirstToken || cause == errIdle {
				limit := first
				if cause == errIdle {
					limit = idle
				}
				return nil, &rebound.Error{
					Class: rebound.ClassTimeout, Provider: providerOf(r.inner.Name()),
					Message: fmt.Sprintf("%s: %v (%s)", r.inner.Name(), cause, limit), Err: err,
				}
			}
		}
		return nil, err
	}
	return resp, nil
}
