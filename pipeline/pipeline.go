package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/ratelimit"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/timeout"
)

// Config configures a Pipeline. Its zero value works: retry's defaults with a budget of its own,
// one breaker per key with breaker's defaults, no pacing, no attempt timeout.
type Config struct {
	// Name is the key of a call that names none (Call.Key empty): a pipeline for one
	// dependency ("anthropic/claude-sonnet-4-6", "tool/search") sets it once.
	Name string
	// Retry is the retry policy of every call. Zero: retry's defaults (5 attempts in all, base
	// 1 s, factor 2, cap 60 s, full jitter, server delay hints honoured). Its Name is set to each
	// call's key and Hook is added to its Hook. Its Budget, when nil, is a new retry.Budget
	// shared by every key of this Pipeline: share one *retry.Budget (or a fleet's) between the
	// pipelines of a process so that an outage is not multiplied by retries. Its FreeRetry, when
	// nil, makes the retries after a rate_limited failure free of the budget: the pacer paces
	// them, and a call is never given up merely because the limit is busy.
	Retry retry.Policy
	// Breakers is the set the breaker of each key comes from. Share one *breaker.Set between the
	// pipelines of a process so that two callers of one dependency share its breaker and a
	// dashboard can list them; its breakers report to the Hook of their own settings (Hook is not
	// added to a Set passed in). Nil: a new Set with Breaker's settings. Ignored when BreakerFor
	// is set.
	Breakers *breaker.Set
	// Breaker is the settings of the breakers of a Set created because Breakers is nil. Zero:
	// breaker's defaults. Hook is added to its Hook. Settings out of range are New's error.
	Breaker breaker.Settings
	// BreakerFor, if set, returns the breaker of a key instead of Breakers: a breaker whose
	// evidence is shared by a fleet of processes (package fleet/redis) plugs in here. It must
	// not return nil.
	BreakerFor func(key string) Breaker
	// Limiter returns the rate limiter that paces the calls of a key (nil: that key is not
	// paced): one ratelimit.Limiter shared by the models of one API key, or one per host.
	// Ignored when Pace is set. Nil: no limiter.
	Limiter func(key string) *ratelimit.Limiter
	// Pace, if set, waits before each attempt for its turn under a rate limit instead of
	// Limiter: a limiter shared by a fleet of processes (package fleet/redis) plugs in here.
	// Nil: Limiter paces, if set.
	Pace PaceFunc
	// AttemptTimeout bounds each attempt (unless Call.Timeout says otherwise): a class timeout
	// failure, retried and counted by the breaker. Zero or negative: none.
	AttemptTimeout time.Duration
	// Hook receives the retries' events (attempt_failed, retry_scheduled, gave_up) and those of
	// the breakers of a Set created here (breaker_changed), each naming the call's key. Nil:
	// none (a rebound.Scope's hook in the context still receives them).
	Hook rebound.Hook
}

// Pipeline runs calls through retry, pacing, a breaker and an attempt timeout, in the order
// the package documentation gives. It holds no per-call state: one Pipeline serves any number
// of goroutines and keys. Build it with New.
type Pipeline struct {
	name       string
	policy     retry.Policy
	breakers   *breaker.Set
	breakerFor func(string) Breaker
	pace       PaceFunc
	limiter    func(string) *ratelimit.Limiter
	timeout    time.Duration
}

// New returns a Pipeline with c's defaults filled in, or an error naming the setting that is
// out of range.
func New(c Config) (*Pipeline, error) {
	p := &Pipeline{name: c.Name, breakerFor: c.BreakerFor, pace: c.Pace, timeout: c.AttemptTimeout}
	if p.pace == nil {
		p.limiter = c.Limiter
	}
	if p.breakerFor == nil {
		p.breakers = c.Breakers
		if p.breakers == nil {
			s := c.Breaker
			s.Hook = rebound.Hooks(s.Hook, c.Hook)
			set, err := breaker.NewSet(breaker.SetConfig{Settings: s})
			if err != nil {
				return nil, fmt.Errorf("pipeline: breaker settings: %w", err)
			}
			p.breakers = set
		}
	}
	if err := validRetry(c.Retry); err != nil {
		return nil, fmt.Errorf("pipeline: retry policy: %w", err)
	}
	p.policy = c.Retry
	p.policy.Hook = rebound.Hooks(p.policy.Hook, c.Hook)
	if p.policy.Budget == nil {
		p.policy.Budget = new(retry.Budget)
	}
	if p.policy.FreeRetry == nil {
		p.policy.FreeRetry = rateLimited
	}
	return p, nil
}

func rateLimited(c rebound.Class) bool { return c == rebound.ClassRateLimited }

//lint:file-ignore ST1005 these errors begin with the Go name of the field they reject (Base, Cap, ...)

// validRetry names the first field of a retry policy that is out of range.
func validRetry(r retry.Policy) error {
	switch {
	case r.Base < 0:
		return fmt.Errorf("Base %s is negative", r.Base)
	case r.Cap < 0:
		return fmt.Errorf("Cap %s is negative", r.Cap)
	case r.Factor < 0 || r.Factor != r.Factor || (r.Factor > 0 && r.Factor < 1):
		return fmt.Errorf("Factor %v is not 0 (the default) or at least 1", r.Factor)
	case r.Spread < 0 || r.Spread > 1 || r.Spread != r.Spread:
		return fmt.Errorf("Spread %v is not in [0, 1]", r.Spread)
	case r.MaxElapsed < 0:
		return fmt.Errorf("MaxElapsed %s is negative", r.MaxElapsed)
	}
	return nil
}

// Breaker returns the breaker of key: BreakerFor's, or the Set's as a Local breaker.
func (p *Pipeline) Breaker(key string) Breaker {
	if p.breakerFor != nil {
		return p.breakerFor(key)
	}
	return Local(p.breakers.Get(key))
}

// Breakers returns the Set the breakers come from (nil when Config.BreakerFor is set).
func (p *Pipeline) Breakers() *breaker.Set { return p.breakers }

// Call is what Do needs to know of one call besides its operation. Its zero value is a call
// under Config.Name's key, costing no tokens, with the Pipeline's attempts and timeout.
type Call[T any] struct {
	// Key names the dependency: its breaker, its pacing and its events. Empty: Config.Name.
	Key string
	// Tokens is the call's estimated cost, for the pacer (0 when only requests are limited).
	Tokens int
	// MaxAttempts, if positive, replaces the policy's for this call (1: no retry, for a call
	// that must not be repeated).
	MaxAttempts int
	// Timeout, if not zero, replaces Config.AttemptTimeout for this call; negative: none.
	Timeout time.Duration
	// Response returns what an attempt's response said, for the pacer: its header (nil when
	// none came) and its HTTP status (0 when none came). It is called once per attempt that was
	// sent, with the attempt's result. When the attempt returned no error but the status is 400
	// or more (an HTTP response returned as it came rather than retried), the breaker counts the
	// failure rebound.HTTPError makes of that status. Nil: no header, status 0.
	Response func(v T, err error) (h http.Header, status int)
}

// Do runs op under p, retrying it as the policy says, and returns its result. Each attempt,
// in this order:
//
//  1. is refused at once (an *breaker.OpenError, never retried) if the key's breaker is open;
//  2. waits for its turn under the rate limit (Config.Pace); the wait is never a failure, and a
//     turn that cannot come before ctx's deadline ends the call, not retried, with class
//     rate_limited ("not sent");
//  3. is admitted by the breaker now that it is about to be sent, so that a call that waited
//     while the breaker opened is not sent, and a half-open probe takes its slot only when it
//     goes out; a refusal here gives the pacing turn back;
//  4. runs op under the attempt timeout;
//  5. reports the response to the pacer (Call.Response) and the outcome to the breaker, which
//     turns a failure after which the breaker is open into a *breaker.OpenedError, so that the
//     retry stops the moment the breaker opens.
//
// On failure the error is a *rebound.GiveUpError saying why it stopped, with the last
// attempt's error. A panic in op counts as a failure for the breaker, the pacer is told no
// response came, and the panic goes on.
func Do[T any](ctx context.Context, p *Pipeline, c Call[T], op rebound.Op[T]) (T, error) {
	key := c.Key
	if key == "" {
		key = p.name
	}
	a := attempt{p: p, key: key, b: p.Breaker(key), tokens: c.Tokens, timeout: p.timeout}
	if c.Timeout != 0 {
		a.timeout = c.Timeout
	}
	pol := p.policy
	pol.Name = key
	if c.MaxAttempts > 0 {
		pol.MaxAttempts = c.MaxAttempts
	}
	response := c.Response
	return retry.Do(ctx, pol, func(ctx context.Context) (T, error) { return run(ctx, &a, op, response) })
}

// attempt is what the attempts of one call share. The operation is kept apart from it (see
// run), so that escape analysis does not move a caller's closure to the heap because the
// breaker is an interface.
type attempt struct {
	p       *Pipeline
	key     string
	b       Breaker
	tokens  int
	timeout time.Duration
}

// turn is an attempt's pacing turn: a PaceFunc's report, or a limiter's Permit (kept as a
// value, so that the common case allocates nothing).
type turn struct {
	fn     func(http.Header, int)
	permit ratelimit.Permit
	held   bool
}

func (t *turn) wait(ctx context.Context, a *attempt) error {
	if a.p.pace != nil {
		fn, err := a.p.pace(ctx, a.key, a.tokens)
		t.fn = fn
		return err
	}
	if a.p.limiter == nil {
		return nil
	}
	l := a.p.limiter(a.key)
	if l == nil {
		return nil
	}
	p, err := l.Wait(ctx, a.tokens)
	t.permit, t.held = p, err == nil
	return err
}

func (t *turn) report(h http.Header, status int) {
	switch {
	case t.fn != nil:
		t.fn(h, status)
	case t.held:
		t.permit.Observe(h, status)
	}
}

// run is one attempt, in the order Do documents.
func run[T any](ctx context.Context, a *attempt, op rebound.Op[T], response func(T, error) (http.Header, int)) (T, error) {
	var zero T
	if err := a.b.Check(ctx); err != nil {
		return zero, err
	}
	var turn turn
	if err := turn.wait(ctx, a); err != nil {
		if ctx.Err() != nil {
			return zero, err
		}
		return zero, rebound.Permanent(&rebound.Error{
			Class: rebound.ClassRateLimited, Provider: a.key, Message: "not sent: " + err.Error(), Err: err,
		})
	}
	bp, err := a.b.Allow(ctx)
	if err != nil {
		turn.report(nil, 0) // not sent: the turn goes back
		return zero, err
	}
	done := false
	defer func() {
		if !done {
			turn.report(nil, 0)
			a.b.Done(ctx, bp, errPanicked)
		}
	}()
	v, err := timeout.Do(ctx, a.timeout, op)
	done = true
	var h http.Header
	status := 0
	if response != nil {
		h, status = response(v, err)
	}
	turn.report(h, status)
	if err == nil && status >= 400 {
		// Returned as it came, but a failure as far as the dependency's health goes.
		a.b.Done(ctx, bp, rebound.HTTPError(status, h, time.Now()))
		return v, nil
	}
	return v, a.b.Done(ctx, bp, err)
}

// errPanicked is the outcome the breaker is told of an attempt that panicked.
var errPanicked = &rebound.Error{Class: rebound.ClassTransient, Message: "the call panicked"}
