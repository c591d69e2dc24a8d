package ratelimit

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
)

// Defaults of Config.
const (
	DefaultReserve      = 0.05
	DefaultJitter       = 0.1
	DefaultMinJitter    = 5 * time.Millisecond
	DefaultProbeTimeout = 2 * time.Second
	DefaultBlockFor     = time.Second
	// maxSends bounds the record of admissions not yet seen by the server.
	maxSends = 1 << 14
)

// ErrWouldExceedDeadline is matched (errors.Is) by the error of a Wait whose turn would come
// after its context's deadline: the call cannot be paced in time, and giving up at once leaves
// the caller the time to fall back.
var ErrWouldExceedDeadline = errors.New("ratelimit: wait would pass the deadline")

// Config configures a Limiter. Its zero value works.
type Config struct {
	// Name names the limit (a provider and key, "anthropic/team-a"), in errors. Default: none.
	Name string
	// Reserve is the share of each limit left unused, as a margin for other clients of the key
	// and for the rounding of the provider's figures. Default 0.05; negative: none.
	Reserve float64
	// Jitter is the upward jitter of every wait, as a share of the wait: a wait of d lasts
	// between d and d·(1+Jitter), and at least up to MinJitter more, so that callers released
	// together do not arrive together. Default 0.1; negative: none.
	Jitter float64
	// MinJitter is the least spread of a wait's jitter. Default 5 ms; negative: none.
	MinJitter time.Duration
	// ProbeTimeout bounds how long callers wait for the first response while nothing is known
	// about the limit: until then one call at a time is let through (a probe), so that a pool
	// of goroutines starting together learns the limit from one response instead of from a
	// wave of 429s. Default 2 s.
	ProbeTimeout time.Duration
	// BlockFor is how long a 429 without any delay hint blocks every call. Default 1 s.
	BlockFor time.Duration
	// Rand returns a random number in [0,1) for jitter. Default math/rand/v2's Float64.
	Rand func() float64
}

// Limiter paces the calls that share one provider key, from what the provider says about the
// key's limits: the anthropic-ratelimit-* and x-ratelimit-* headers of every response (limit,
// remaining, reset, for requests and for tokens) and its 429s. It admits a call when the
// provider's bucket, as last reported and refilled since at the rate its reset time implies,
// minus the calls sent since that report, still holds the call's cost; otherwise the call waits
// its turn. 429s then become rare rather than the control signal.
//
// Before any response, one call at a time is admitted (a probe). A provider that sends no
// rate-limit headers is not paced, except that a 429 blocks every call for its delay.
//
// A Limiter is safe for concurrent use; share one between every goroutine (and every model)
// that uses the same key and limit.
type Limiter struct {
	cfg Config

	mu        sync.Mutex
	known     bool // a response has been observed
	headers   bool // some response carried rate-limit headers
	probing   bool // a probe is out
	probeAt   time.Time
	blocked   time.Time // no call before this (a 429's delay)
	requests  bucket
	tokens    bucket
	sends     []send // admissions not yet seen by every report, oldest first
	seq       uint64 // admissions so far
	wake      chan struct{}
	admitted  int64
	throttled int64
}

type send struct {
	seq    uint64
	tokens float64
}

// bucket is the provider's last report on one limit: the bucket held remaining of limit when
// the call admitted at snap (the seq-th admission) arrived, and will be full at reset.
type bucket struct {
	have      bool
	limit     float64
	remaining float64
	seq       uint64
	snap      time.Time
	reset     time.Time
}

// New returns a Limiter with c's defaults filled in.
func New(c Config) *Limiter {
	if c.Reserve == 0 {
		c.Reserve = DefaultReserve
	} else if c.Reserve < 0 {
		c.Reserve = 0
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultJitter
	} else if c.Jitter < 0 {
		c.Jitter = 0
	}
	if c.MinJitter == 0 {
		c.MinJitter = DefaultMinJitter
	} else if c.MinJitter < 0 {
		c.MinJitter = 0
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.BlockFor <= 0 {
		c.BlockFor = DefaultBlockFor
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return &Limiter{cfg: c, wake: make(chan struct{})}
}

// Permit is an admitted call. Report the provider's response with Observe (or ObserveAt), once:
// its headers teach the limiter, and a probe's report lets the next callers in.
type Permit struct {
	l     *Limiter
	sent  time.Time
	seq   uint64
	probe bool
}

// Sent returns when the call was admitted.
func (p Permit) Sent() time.Time { return p.sent }

// Wait blocks until a call costing tokens (an estimate of the tokens it will use; 0 when only
// requests are limited) may be sent, and admits it. The wait ends early, with the context's
// error, when ctx ends; it is not started, and an error matching ErrWouldExceedDeadline is
// returned at once, when the call's turn would come after ctx's deadline.
func (l *Limiter) Wait(ctx context.Context, tokens int) (Permit, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Permit{}, err
		}
		now := time.Now()
		p, d := l.AllowAt(now, tokens)
		if d == 0 {
			return p, nil
		}
		d = l.jitter(d)
		if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) && !l.wakeable() {
			return Permit{}, &waitError{name: l.cfg.Name, wait: d}
		}
		l.mu.Lock()
		wake := l.wake
		l.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return Permit{}, ctx.Err()
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

// wakeable reports whether a response may shorten the wait: calls are in flight whose reports
// may show more room than the estimate.
func (l *Limiter) wakeable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.probing || (len(l.sends) > 0 && l.headers)
}

func (l *Limiter) jitter(d time.Duration) time.Duration {
	spread := time.Duration(float64(d) * l.cfg.Jitter)
	if spread < l.cfg.MinJitter {
		spread = l.cfg.MinJitter
	}
	return d + time.Duration(l.cfg.Rand()*float64(spread))
}

// AllowAt admits a call costing tokens at now if the limits allow it (wait 0), and otherwise
// returns the zero Permit and how long to wait before asking again (without jitter). It never
// blocks: it is Wait's explicit-time twin.
func (l *Limiter) AllowAt(now time.Time, tokens int) (Permit, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.blocked) {
		l.throttled++
		return Permit{}, l.blocked.Sub(now)
	}
	if !l.known {
		if l.probing && now.Sub(l.probeAt) < l.cfg.ProbeTimeout {
			l.throttled++
			return Permit{}, l.probeAt.Add(l.cfg.ProbeTimeout).Sub(now)
		}
		l.probing, l.probeAt = true, now
		return l.admit(now, tokens, true), 0
	}
	var wait time.Duration
	if l.requests.have {
		wait = max(wait, l.requests.waitFor(now, 1, l.uncounted(l.requests.seq, false), l.cfg.Reserve))
	}
	if l.tokens.have && tokens > 0 {
		wait = max(wait, l.tokens.waitFor(now, float64(tokens), l.uncounted(l.tokens.seq, true), l.cfg.Reserve))
	}
	if wait > 0 {
		l.throttled++
		return Permit{}, wait
	}
	return l.admit(now, tokens, false), 0
}

func (l *Limiter) admit(now time.Time, tokens int, probe bool) Permit {
	if len(l.sends) >= maxSends {
		l.sends = append(l.sends[:0], l.sends[len(l.sends)/2:]...)
	}
	l.seq++
	l.sends = append(l.sends, send{seq: l.seq, tokens: float64(tokens)})
	l.admitted++
	return Permit{l: l, sent: now, seq: l.seq, probe: probe}
}

// uncounted is what was admitted after snap: calls the provider had not seen when it made its
// report.
func (l *Limiter) uncounted(seq uint64, tokens bool) float64 {
	var n float64
	for i := len(l.sends) - 1; i >= 0 && l.sends[i].seq > seq; i-- {
		if tokens {
			n += l.sends[i].tokens
		} else {
			n++
		}
	}
	return n
}

// level is the bucket's estimated content at now, before the calls sent since the report.
func (b *bucket) level(now time.Time) float64 {
	if !now.After(b.snap) {
		return b.remaining
	}
	if !b.reset.After(b.snap) || !now.Before(b.reset) {
		return b.limit
	}
	f := float64(now.Sub(b.snap)) / float64(b.reset.Sub(b.snap))
	return b.remaining + (b.limit-b.remaining)*f
}

// waitFor returns how long until the bucket holds cost plus the reserve, beyond what was sent
// since the report (0: now).
func (b *bucket) waitFor(now time.Time, cost, uncounted, reserve float64) time.Duration {
	need := min(cost+reserve*b.limit, b.limit) + uncounted
	if b.level(now) >= need {
		return 0
	}
	if need > b.limit || !b.reset.After(b.snap) || b.limit <= b.remaining {
		// The estimate cannot get there by refilling alone: the calls in flight must report.
		return 50 * time.Millisecond
	}
	f := (need - b.remaining) / (b.limit - b.remaining)
	at := b.snap.Add(time.Duration(f * float64(b.reset.Sub(b.snap))))
	return max(at.Sub(now), time.Millisecond)
}

// Observe reports the response to the admitted call, reading the clock: its status (0 when no
// response came) and its header (nil when none).
func (p Permit) Observe(h http.Header, status int) { p.ObserveAt(time.Now(), h, status) }

// ObserveAt is Observe at the given time.
func (p Permit) ObserveAt(now time.Time, h http.Header, status int) {
	if p.l == nil {
		return
	}
	p.l.observe(now, p, h, status)
}

func (l *Limiter) observe(now time.Time, p Permit, h http.Header, status int) {
	req, tok, ok := parse(h, now)
	l.mu.Lock()
	if p.probe {
		l.probing = false
	}
	if ok {
		l.known, l.headers = true, true
		if req.have && p.seq >= l.requests.seq {
			req.seq, req.snap = p.seq, p.sent
			l.requests = req
		}
		if tok.have && p.seq >= l.tokens.seq {
			tok.seq, tok.snap = p.seq, p.sent
			l.tokens = tok
		}
		l.prune()
	} else if status != 0 {
		l.known = true
	}
	if status == http.StatusTooManyRequests {
		d, hinted := rebound.DelayHint(status, h, now)
		if !hinted {
			d = l.cfg.BlockFor
		}
		if until := now.Add(d); until.After(l.blocked) {
			l.blocked = until
		}
	}
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
}

// prune forgets the admissions every report has seen.
func (l *Limiter) prune() {
	oldest := l.requests.seq
	if l.tokens.have && (!l.requests.have || l.tokens.seq < oldest) {
		oldest = l.tokens.seq
	}
	i := 0
	for i < len(l.sends) && l.sends[i].seq <= oldest {
		i++
	}
	if i > 0 {
		l.sends = append(l.sends[:0], l.sends[i:]...)
	}
}

// Stats are a Limiter's counters.
type Stats struct {
	// Admitted counts the calls admitted.
	Admitted int64
	// Throttled counts the times a call was told to wait.
	Throttled int64
}

// Stats returns the limiter's counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Admitted: l.admitted, Throttled: l.throttled}
}

type waitError struct {
	name string
	wait time.Duration
}

func (e *waitError) Error() string {
	s := "ratelimit"
	if e.name != "" {
		s += " " + e.name
	}
	return s + ": the wait for the rate limit (" + e.wait.Round(time.Millisecond).String() + ") would pass the deadline"
}

func (e *waitError) Is(target error) bool { return target == ErrWouldExceedDeadline }
