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
// provider's bucket, as last reported and refilled since at the pace its reset time implies,
// minus the calls the report may not have counted (those admitted after the reported one, and
// those still in flight), still holds the call's cost plus a reserve; otherwise the call waits
// its turn. 429s then become rare rather than the control signal.
//
// Waiters are served in order of arrival, so no caller starves while others pass. Before any
// response, one call at a time is admitted (a probe). A provider that sends no rate-limit
// headers is not paced, except that a 429 without them blocks every call for its delay; nor is
// one that stopped sending them, once the reset of its last report has passed, until a response
// reports again.
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
	sends     []send   // admissions not yet both observed and seen by every report, oldest first
	seq       uint64   // admissions so far
	inflight  int      // admissions in sends not yet observed
	queue     []uint64 // tickets of the waiters, in order of arrival
	tickets   uint64
	wake      chan struct{}
	admitted  int64
	throttled int64
}

type send struct {
	seq    uint64
	at     time.Time
	tokens float64
	done   bool // its response was observed
}

// bucket is what the provider reported on one limit: the report of the latest admission that
// has reported, and the refill rate the reports prove.
type bucket struct {
	have    bool
	limit   float64
	reports []report // at most one
	// bare is the latest admission whose response said nothing of this limit.
	bare uint64
	// rate is the highest refill rate (per second) that a report of the last rateMemory proves
	// the bucket to have, and rateAt when it was proved.
	rate   float64
	rateAt time.Time
}

// rateMemory is how long a proven refill rate is trusted without a report proving it again.
const rateMemory = 30 * time.Second

// report is one response's word on a bucket: it held remaining of limit when the call admitted
// at snap (the seq-th admission) arrived, and will be full at reset.
type report struct {
	remaining float64
	seq       uint64
	snap      time.Time
	reset     time.Time
	resetIn   time.Duration // the reset as a duration from the provider's figures, if sent so
}

// add records a report if it is of a later admission than the one kept, and the refill rate it
// proves: the bucket gains at least limit-remaining-1 by reset (remaining is rounded down; a
// reset may be rounded up, as Anthropic's whole seconds are), so its rate is at least that over
// the time from snap to reset.
func (b *bucket) add(now time.Time, limit float64, r report) {
	if b.have && limit != b.limit {
		b.rate, b.rateAt = 0, time.Time{}
	}
	// A reset sent as a duration counts from when the provider took its figures, not from when
	// the answer came back: it proves the rate without the answer's latency in the way.
	span := r.reset.Sub(r.snap)
	if r.resetIn > 0 {
		span = r.resetIn
	}
	if gain := limit - r.remaining - 1; gain > 0 && span > 0 {
		proved := gain / span.Seconds()
		if proved >= b.rate || now.Sub(b.rateAt) > rateMemory {
			b.rate, b.rateAt = proved, now
		}
	}
	if b.have && len(b.reports) > 0 && r.seq < b.reports[0].seq && limit == b.limit {
		return
	}
	b.have, b.limit = true, limit
	b.reports = append(b.reports[:0], r)
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
// its headers teach the limiter, and until then the call counts as in flight.
type Permit struct {
	l     *Limiter
	sent  time.Time
	seq   uint64
	probe bool
}

// Sent returns when the call was admitted.
func (p Permit) Sent() time.Time { return p.sent }

// inFlightFor is how long an admitted call whose response is never reported counts as in
// flight.
const inFlightFor = time.Minute

// Wait blocks until a call costing tokens (an estimate of the tokens it will use; 0 when only
// requests are limited) may be sent, and admits it. Callers are served in order of arrival.
// The wait ends early, with the context's error, when ctx ends. When the call is first in line
// and its turn would come after ctx's deadline, Wait returns at once an error matching
// ErrWouldExceedDeadline.
//
// A wait behind a 429 or a probe carries jitter (see Config.Jitter), so that callers released
// together do not arrive together; a wait for the bucket to refill needs none, as the callers
// are let through one by one.
func (l *Limiter) Wait(ctx context.Context, tokens int) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	l.mu.Lock()
	l.tickets++
	ticket := l.tickets
	l.queue = append(l.queue, ticket)
	l.mu.Unlock()
	admitted := false
	defer func() {
		if !admitted {
			l.mu.Lock()
			l.dequeue(ticket)
			l.broadcast()
			l.mu.Unlock()
		}
	}()
	for {
		now := time.Now()
		l.mu.Lock()
		head := l.queue[0] == ticket
		var p Permit
		var d time.Duration
		var gate bool
		if head {
			p, d, gate = l.allow(now, tokens)
			if d == 0 {
				l.dequeue(ticket)
				l.broadcast()
				admitted = true
				l.mu.Unlock()
				return p, nil
			}
		}
		wake := l.wake
		l.mu.Unlock()

		var t *time.Timer
		var timer <-chan time.Time
		if head {
			if gate {
				d = l.jitter(d)
			}
			if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) && !l.wakeable() {
				return Permit{}, &waitError{name: l.cfg.Name, wait: d}
			}
			t = time.NewTimer(d)
			timer = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return Permit{}, ctx.Err()
		case <-timer:
		case <-wake:
			if t != nil {
				t.Stop()
			}
		}
	}
}

func (l *Limiter) dequeue(ticket uint64) {
	for i, t := range l.queue {
		if t == ticket {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			return
		}
	}
}

// broadcast wakes every waiter. l.mu is held.
func (l *Limiter) broadcast() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// wakeable reports whether a response may shorten the wait: calls are in flight whose reports
// may show more room than the estimate.
func (l *Limiter) wakeable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probing {
		return true
	}
	if !l.headers {
		return false
	}
	for _, s := range l.sends {
		if !s.done {
			return true
		}
	}
	return false
}

func (l *Limiter) jitter(d time.Duration) time.Duration {
	spread := time.Duration(float64(d) * l.cfg.Jitter)
	if spread < l.cfg.MinJitter {
		spread = l.cfg.MinJitter
	}
	return d + time.Duration(l.cfg.Rand()*float64(spread))
}

// AllowAt admits a call costing tokens at now if the limits allow it (wait 0), and otherwise
// returns the zero Permit and how long to wait before asking again. It never blocks: it is
// Wait's explicit-time twin, and does not queue behind Wait's callers.
func (l *Limiter) AllowAt(now time.Time, tokens int) (Permit, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, d, _ := l.allow(now, tokens)
	return p, d
}

// allow is AllowAt with l.mu held; gate reports a wait behind a 429 or a probe.
func (l *Limiter) allow(now time.Time, tokens int) (p Permit, wait time.Duration, gate bool) {
	if l.expire(now) {
		l.prune(now)
	}
	if now.Before(l.blocked) {
		l.throttled++
		return Permit{}, l.blocked.Sub(now), true
	}
	if !l.known {
		if l.probing && now.Sub(l.probeAt) < l.cfg.ProbeTimeout {
			l.throttled++
			return Permit{}, l.probeAt.Add(l.cfg.ProbeTimeout).Sub(now), true
		}
		l.probing, l.probeAt = true, now
		return l.admit(now, tokens, true), 0, false
	}
	for _, r := range l.requests.reports {
		wait = max(wait, r.waitFor(now, l.requests.limit, l.requests.rate, 1, l.uncounted(now, r, false), l.cfg.Reserve))
	}
	if tokens > 0 {
		for _, r := range l.tokens.reports {
			wait = max(wait, r.waitFor(now, l.tokens.limit, l.tokens.rate, float64(tokens), l.uncounted(now, r, true), l.cfg.Reserve))
		}
	}
	if wait > 0 {
		l.throttled++
		return Permit{}, wait, false
	}
	return l.admit(now, tokens, false), 0, false
}

func (l *Limiter) admit(now time.Time, tokens int, probe bool) Permit {
	if len(l.sends) >= maxSends {
		half := len(l.sends) / 2
		for _, s := range l.sends[:half] {
			if !s.done {
				l.inflight--
			}
		}
		l.sends = append(l.sends[:0], l.sends[half:]...)
	}
	l.seq++
	l.sends = append(l.sends, send{seq: l.seq, at: now, tokens: float64(tokens)})
	l.inflight++
	l.admitted++
	return Permit{l: l, sent: now, seq: l.seq, probe: probe}
}

// reorderWindow is how much earlier than the reported call a call may have been admitted and
// still have reached the provider after it: such calls are counted as not in the report.
const reorderWindow = 100 * time.Millisecond

// uncounted is what report r may not have counted: the calls admitted after it, those still in
// flight (they may reach the provider after it), and those admitted shortly before it (they may
// have reached the provider after it).
func (l *Limiter) uncounted(now time.Time, r report, tokens bool) float64 {
	var n float64
	edge := r.snap.Add(-reorderWindow)
	pending := l.inflight
	for i := len(l.sends) - 1; i >= 0; i-- {
		s := l.sends[i]
		inFlight := !s.done && now.Sub(s.at) < inFlightFor
		if !s.done {
			pending--
		}
		if s.seq > r.seq || (s.seq < r.seq && !s.at.Before(edge)) || inFlight {
			if tokens {
				n += s.tokens
			} else {
				n++
			}
		} else if s.at.Before(edge) && pending <= 0 {
			break // older ones are all observed and well before the report
		}
	}
	return n
}

// level is the bucket's estimated content at now by this report, before the calls it did not
// count: a lower bound, refilled since the report at a rate the reports prove (see
// bucket.add), and full at the reset.
func (r report) level(now time.Time, limit, rate float64) float64 {
	if !now.After(r.snap) {
		return r.remaining
	}
	if !now.Before(r.reset) {
		return limit
	}
	return min(limit, r.remaining+rate*now.Sub(r.snap).Seconds())
}

// waitFor returns how long until the bucket holds cost plus the reserve, beyond what the report
// did not count (0: now).
func (r report) waitFor(now time.Time, limit, rate, cost, uncounted, reserve float64) time.Duration {
	need := min(cost+reserve*limit, limit) + uncounted
	if r.level(now, limit, rate) >= need {
		return 0
	}
	if need > limit {
		// The estimate cannot get there by refilling alone: the calls in flight must report.
		return 50 * time.Millisecond
	}
	at := r.reset // full then
	if rate > 0 {
		if t := r.snap.Add(time.Duration((need - r.remaining) / rate * float64(time.Second))); t.Before(at) {
			at = t
		}
	}
	if !at.After(now) {
		return time.Millisecond
	}
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
	rep := ParseHeader(h, now)
	req, tok := rep.Requests, rep.Tokens
	ok := req.Known || tok.Known
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.probe {
		l.probing = false
	}
	for i := len(l.sends) - 1; i >= 0; i-- {
		if l.sends[i].seq == p.seq {
			if !l.sends[i].done {
				l.sends[i].done = true
				l.inflight--
			}
			break
		}
	}
	if ok {
		l.known, l.headers = true, true
		if req.Known {
			l.requests.add(now, float64(req.Limit), report{remaining: float64(req.Remaining), seq: p.seq, snap: p.sent, reset: req.Reset, resetIn: req.ResetIn})
		}
		if tok.Known {
			l.tokens.add(now, float64(tok.Limit), report{remaining: float64(tok.Remaining), seq: p.seq, snap: p.sent, reset: tok.Reset, resetIn: tok.ResetIn})
		}
	} else if status != 0 {
		l.known = true
	}
	if status != 0 {
		if !req.Known {
			l.requests.bare = max(l.requests.bare, p.seq)
		}
		if !tok.Known {
			l.tokens.bare = max(l.tokens.bare, p.seq)
		}
	}
	if status == http.StatusTooManyRequests && !ok {
		// A 429 that says nothing of the buckets: block every call for the delay it asks.
		// (With rate-limit headers, the report of an empty bucket paces the calls already.)
		d, hinted := rebound.DelayHint(status, h, now)
		if !hinted {
			d = l.cfg.BlockFor
		}
		if until := now.Add(d); until.After(l.blocked) {
			l.blocked = until
		}
	}
	l.expire(now)
	l.prune(now)
	l.broadcast()
}

// expire forgets the reports that the provider stopped renewing: a report whose reset has passed
// while a later call was answered without that limit's headers. The provider (or a proxy in
// front of it) no longer says how the bucket stands, and the calls sent since cannot be counted
// against an old report for ever: they would end up holding every call back (and the record of
// admissions, kept for the oldest report, would grow). Without a report a limit does not pace,
// as for a provider that never sent headers, until a response reports it again. It reports
// whether it forgot one. l.mu is held.
func (l *Limiter) expire(now time.Time) bool {
	forgot := false
	for _, b := range []*bucket{&l.requests, &l.tokens} {
		if len(b.reports) > 0 && b.bare > b.reports[0].seq && !now.Before(b.reports[0].reset) {
			b.reports = b.reports[:0]
			forgot = true
		}
	}
	return forgot
}

// prune forgets the admissions that no report can miss any more: observed, and admitted well
// before the report kept of every bucket. With no report kept, the next report may come from a
// call still in flight, so only the admissions well before the oldest of those are forgotten.
func (l *Limiter) prune(now time.Time) {
	var edge time.Time
	have := false
	for _, b := range []*bucket{&l.requests, &l.tokens} {
		for _, r := range b.reports {
			if e := r.snap.Add(-reorderWindow); !have || e.Before(edge) {
				edge, have = e, true
			}
		}
	}
	if !have {
		if !l.known {
			return
		}
		edge = now
		for _, s := range l.sends {
			if !s.done && now.Sub(s.at) < inFlightFor {
				edge = s.at.Add(-reorderWindow)
				break
			}
		}
	}
	i := 0
	for i < len(l.sends) && l.sends[i].at.Before(edge) && (l.sends[i].done || now.Sub(l.sends[i].at) >= inFlightFor) {
		if !l.sends[i].done {
			l.inflight--
		}
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
