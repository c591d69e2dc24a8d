package ratelimit

import (
	"container/list"
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
// provider's bucket, as last reported, refilled since at the rate the reports prove and spent by
// every call the report may not have counted (those admitted after the reported one, those still
// in flight, those admitted just before it), still holds the call's cost plus a reserve;
// otherwise the call waits its turn. 429s then become rare rather than the control signal.
//
// A request limit bounds the rate of calls, not the number in flight: each call not yet counted
// is taken from the bucket as it stood when the call was admitted, refilled up to its size, so
// with 1 s answers and a limit of 20 a second about 20 calls are in flight at once.
//
// The refill rate is proved from the reports, never guessed upwards: from one report (the
// bucket gains what it lacks by the reset; a reset rounded up to the second, as Anthropic's are,
// only lowers the bound) and from pairs of reports up to 10 s apart (the bucket held r1, lost the
// n calls counted in between, and held r2, so it gained r2-r1+n, within one call for the
// rounding of remaining). A limit of 20 a second with a burst of 5 and whole-second resets is
// paced at 19–20 a second, not at the 3.75 one report proves; a proved rate is trusted 30 s.
// Pairs are measured between admissions widened by 20 ms, for the calls' own ways to the
// provider.
//
// While the limiter paces below the true rate, a small bucket refills between calls and every
// report is of a full bucket, which proves only the rate in use. Under whole-second resets the
// limiter then times one admission a second (moving it by less than the pacing's spacing,
// never adding one) to reach the provider 1/target before a whole second: if its reset is that
// second, the bucket gained a call in that time and the rate is at least target. The target
// grows fourfold until one fails, then bisects. A bucket of 2 at 20/s answered after 1 s is paced
// at 95 % of its rate 5 s after the first answer (85 % without the timing). This assumes the
// provider's clock and the limiter's agree to a few milliseconds (NTP): a provider clock ahead of
// ours only makes the proofs lower, one behind by d makes a call timed ε before a second prove
// 1/ε where the truth may be 1/(ε+d).
//
// Waiters are served in order of arrival, so no caller starves while others pass; only the head
// of the queue waits for its turn, the others sleep until they are the head. Before any
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
	sends     []send    // admissions not yet both observed and seen by every report, oldest first
	seq       uint64    // admissions so far
	inflight  int       // admissions in sends not yet observed
	queue     list.List // of *waiter, in order of arrival; only the head waits for its turn
	admitted  int64
	throttled int64
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
	return &Limiter{cfg: c}
}

// waiter is a caller of Wait in the queue. Its channel (of capacity 1) is signalled when it
// becomes the head, and while it is the head when a response may have changed its turn.
type waiter struct {
	wake chan struct{}
}

// signal wakes w without blocking; a signal already pending is enough.
func (w *waiter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// signalHead wakes the waiter at the head of the queue, if any. l.mu is held.
func (l *Limiter) signalHead() {
	if e := l.queue.Front(); e != nil {
		e.Value.(*waiter).signal()
	}
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
	w := &waiter{wake: make(chan struct{}, 1)}
	l.mu.Lock()
	e := l.queue.PushBack(w)
	l.mu.Unlock()
	for {
		now := time.Now()
		l.mu.Lock()
		head := l.queue.Front() == e
		var d time.Duration
		var gate, wakeable bool
		if head {
			var p Permit
			dl, _ := ctx.Deadline()
			p, d, gate = l.allow(now, tokens, dl)
			if d == 0 {
				l.queue.Remove(e)
				l.signalHead() // the next in line may go too
				l.mu.Unlock()
				return p, nil
			}
			wakeable = l.wakeable()
		}
		l.mu.Unlock()

		var t *time.Timer
		var timer <-chan time.Time
		if head {
			if gate {
				d = l.jitter(d)
			}
			if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) && !wakeable {
				l.leave(e)
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
			l.leave(e)
			return Permit{}, ctx.Err()
		case <-timer:
		case <-w.wake:
			if t != nil {
				t.Stop()
			}
		}
	}
}

// leave takes a waiter that gives up out of the queue, handing the head's turn on if it had it.
func (l *Limiter) leave(e *list.Element) {
	l.mu.Lock()
	head := l.queue.Front() == e
	l.queue.Remove(e)
	if head {
		l.signalHead()
	}
	l.mu.Unlock()
}

// wakeable reports whether a response may shorten the wait: calls are in flight whose reports
// may show more room than the estimate. l.mu is held.
func (l *Limiter) wakeable() bool {
	return l.probing || l.headers && l.inflight > 0
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
	p, d, _ := l.allow(now, tokens, time.Time{})
	return p, d
}

// allow is AllowAt with l.mu held; gate reports a wait behind a 429 or a probe. A hold to time
// the admission (see phase) never passes deadline, if nonzero.
func (l *Limiter) allow(now time.Time, tokens int, deadline time.Time) (p Permit, wait time.Duration, gate bool) {
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
		wait = max(wait, l.waitFor(now, &l.requests, r, 1, false))
	}
	if tokens > 0 {
		for _, r := range l.tokens.reports {
			wait = max(wait, l.waitFor(now, &l.tokens, r, float64(tokens), true))
		}
	}
	if wait > 0 {
		l.throttled++
		return Permit{}, wait, false
	}
	hold, timed := l.phase(now, deadline)
	if hold > 0 {
		return Permit{}, hold, false
	}
	p = l.admit(now, tokens, false)
	if timed {
		l.requests.timed(now, p.seq)
	}
	return p, 0, false
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
	if i := l.sendIndex(p.seq); i >= 0 && !l.sends[i].done {
		l.sends[i].done = true
		l.sends[i].spent = status != 0 && status != http.StatusTooManyRequests
		l.inflight--
	}
	if ok {
		l.known, l.headers = true, true
		if req.Known {
			l.requests.add(now, float64(req.Limit), report{remaining: float64(req.Remaining), seq: p.seq, snap: p.sent, reset: req.Reset, resetIn: req.ResetIn, resetAt: req.ResetAt}, l.spent)
		}
		if tok.Known {
			l.tokens.add(now, float64(tok.Limit), report{remaining: float64(tok.Remaining), seq: p.seq, snap: p.sent, reset: tok.Reset, resetIn: tok.ResetIn, resetAt: tok.ResetAt}, nil)
		}
	} else if status != 0 {
		l.known = true
	}
	if status != 0 && status != http.StatusTooManyRequests {
		// A 429 without a limit's headers blocks (below); it is not the provider ceasing to
		// report the limit. Counted as such, it made the report expire, so that the calls
		// released at the end of the block went unpaced, all at once, into another 429.
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
	l.signalHead()
}

// sendIndex returns the index in l.sends of the seq-th admission, or -1 if it is no longer
// kept. Admissions are numbered in order and kept as a contiguous run. l.mu is held.
func (l *Limiter) sendIndex(seq uint64) int {
	if len(l.sends) == 0 || seq < l.sends[0].seq {
		return -1
	}
	i := int(seq - l.sends[0].seq)
	if i >= len(l.sends) || l.sends[i].seq != seq {
		return -1
	}
	return i
}

// spent counts the calls between reports h and r that surely took a request from the bucket
// after h's call and by r's: answered and not by a 429, admitted more than reorderWindow after
// h's call and before r's (a call admitted close to either may have reached the provider on the
// other side of it), and r's own call. Those still in flight, and those no longer kept, are not
// counted: the count is a lower bound. l.mu is held.
func (l *Limiter) spent(h, r report) float64 {
	n := 1.0 // r's own call
	from, to := h.snap.Add(reorderWindow), r.snap.Add(-reorderWindow)
	for i := max(l.sendIndex(h.seq+1), 0); i < len(l.sends) && l.sends[i].seq < r.seq; i++ {
		s := l.sends[i]
		if s.seq > h.seq && s.spent && s.at.After(from) && s.at.Before(to) {
			n++
		}
	}
	return n
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
			b.hist = b.hist[:0]
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
	// Keep the admissions since the oldest report of the requests' history, to count the calls
	// between two reports (see bucket.add).
	keep := l.seq
	h := &l.requests.hist
	for len(*h) > 0 && now.Sub((*h)[0].snap) > histSpan {
		*h = (*h)[1:]
	}
	if len(l.requests.hist) > 0 {
		keep = l.requests.hist[0].seq
	}
	i := 0
	for i < len(l.sends) && l.sends[i].at.Before(edge) && l.sends[i].seq <= keep && (l.sends[i].done || now.Sub(l.sends[i].at) >= inFlightFor) {
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
