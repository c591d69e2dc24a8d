package fleetredis

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/pipeline"
	"github.com/rebound-go/rebound/ratelimit"
)

// The defaults of a LimiterConfig.
const (
	DefaultLimiterName = "rebound:ratelimit"
	DefaultIdle        = 10 * time.Minute
	DefaultRetryRedis  = time.Second
	DefaultRecheck     = 250 * time.Millisecond
	DefaultMemberFor   = 10 * time.Second
)

// LimiterConfig configures a fleet-wide rate limiter. Its zero value works.
type LimiterConfig struct {
	// Name is the limiter's key prefix in Redis; processes that use the same Name and the same
	// provider key share one view of that key's limits. It is wrapped in braces ({Name}) so
	// that every key of the limiter lives in one Redis Cluster slot. Empty: "rebound:ratelimit".
	Name string
	// Reserve is the share of each limit left unused, as a margin for the provider's rounding
	// and for the calls a report did not count. Default 0.05 (ratelimit.DefaultReserve);
	// negative: none.
	Reserve float64
	// Jitter is the upward jitter of a wait behind a 429's block, as a share of the wait: a
	// wait of d lasts between d and d·(1+Jitter), and at least up to MinJitter more, so that
	// processes released together do not arrive together. Default 0.1; negative: none.
	Jitter float64
	// MinJitter is the least spread of a wait's jitter, and the whole spread of a wait for a
	// turn in a bucket: turns are distinct already, spaced by the refill, and a larger jitter
	// would send calls out of the order of their turns (a provider's report then misses calls
	// given earlier turns, and the fleet over-estimates the bucket). Default 5 ms; negative:
	// none.
	MinJitter time.Duration
	// BlockFor is how long a 429 without any delay hint or rate-limit header blocks the fleet's
	// calls on its key. Default 1 s.
	BlockFor time.Duration
	// Idle is how long a key's state stays in Redis after its last use. Default 10 minutes.
	Idle time.Duration
	// Timeout bounds each Redis round trip. Zero: 100 ms.
	Timeout time.Duration
	// RetryRedis is how long the limiter paces locally alone after a Redis failure before it
	// asks Redis again, so that a Redis that is down costs one timeout per RetryRedis, not one
	// per call. Default 1 s.
	RetryRedis time.Duration
	// Recheck is how often a call that waits for its turn asks Redis for its turn again: a report
	// of more room, or the proof of a faster refill, brings every waiting turn forward (and a
	// report of less room moves them back), so that turns given while the rate was still being
	// learnt are not kept. Default 250 ms (a waiting call costs a round trip per Recheck);
	// negative: never (a turn stays as first given).
	Recheck time.Duration
	// MemberFor is how long a limiter (a process) counts as a member of a key's fleet after its
	// last reservation on the key. When Redis fails, each process paces at its share of the
	// fleet's last known refill rate: the rate over the members Redis last counted. Default 10 s.
	MemberFor time.Duration
	// Local returns the process's own limiter for a provider key. Every call passes it as well
	// as the fleet's bucket, every response teaches it, and when Redis fails it paces alone.
	// It is called once per key. Nil: ratelimit.New with Name the key and this config's
	// Reserve, Jitter, MinJitter, BlockFor and Rand.
	Local func(key string) *ratelimit.Limiter
	// Rand returns a random number in [0,1) for jitter. Default math/rand/v2's Float64.
	Rand func() float64
	// OnError, if set, is told of every Redis failure (the limiter then paces alone, at its
	// share of the fleet's rate, for RetryRedis; the error says the share). It is called on the
	// caller's goroutine with no lock held.
	OnError func(error)
}

// Limiter paces the calls of a fleet of processes that share provider keys, from one view of
// each key's limits kept in Redis: a token bucket per limit (requests, and tokens when calls
// say what they cost), set by the providers' own rate-limit headers (limit, remaining, reset)
// and refilled on Redis's clock at the rate the reports prove (see the package doc). Calls
// reserve their cost in the bucket in order of arrival at Redis and wait for their turn, which
// moves with later reports (LimiterConfig.Recheck); a 429 without rate-limit headers blocks the
// fleet's calls for its delay. No lock is held across a call.
//
// Each process also keeps a ratelimit.Limiter per key (see LimiterConfig.Local): it learns from
// every response. When Redis does not answer, a call waits for the process's share of the
// fleet's last known rate and for the local limiter.
//
// Share one *Limiter between the goroutines of a process. Safe for concurrent use.
type Limiter struct {
	client     redis.Scripter
	prefix     string
	reserve    float64
	jitter     float64
	minJitter  time.Duration
	blockFor   time.Duration
	idle       int64 // ms
	timeout    time.Duration
	retryRedis time.Duration
	recheck    time.Duration // 0: never
	memberFor  time.Duration
	id         string // this limiter's member id in the fleet
	newLocal   func(string) *ratelimit.Limiter
	rand       func() float64
	onError    func(error)

	locals    sync.Map     // key → *ratelimit.Limiter
	shares    sync.Map     // key → *share
	known     sync.Map     // key → *atomic.Bool: the fleet's state holds a report of the key's limits
	skipUntil atomic.Int64 // unix ns: Redis failed, pace locally until then
}

func (l *Limiter) knownFlag(key string) *atomic.Bool {
	if v, ok := l.known.Load(key); ok {
		return v.(*atomic.Bool)
	}
	v, _ := l.known.LoadOrStore(key, new(atomic.Bool))
	return v.(*atomic.Bool)
}

// NewLimiter returns a fleet-wide rate limiter kept in Redis through client (a *redis.Client,
// *redis.ClusterClient or *redis.Ring).
func NewLimiter(client redis.Scripter, cfg LimiterConfig) *Limiter {
	if cfg.Name == "" {
		cfg.Name = DefaultLimiterName
	}
	switch {
	case cfg.Reserve == 0:
		cfg.Reserve = ratelimit.DefaultReserve
	case cfg.Reserve < 0:
		cfg.Reserve = 0
	}
	switch {
	case cfg.Jitter == 0:
		cfg.Jitter = ratelimit.DefaultJitter
	case cfg.Jitter < 0:
		cfg.Jitter = 0
	}
	switch {
	case cfg.MinJitter == 0:
		cfg.MinJitter = ratelimit.DefaultMinJitter
	case cfg.MinJitter < 0:
		cfg.MinJitter = 0
	}
	if cfg.BlockFor <= 0 {
		cfg.BlockFor = ratelimit.DefaultBlockFor
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryRedis <= 0 {
		cfg.RetryRedis = DefaultRetryRedis
	}
	switch {
	case cfg.Recheck == 0:
		cfg.Recheck = DefaultRecheck
	case cfg.Recheck < 0:
		cfg.Recheck = 0
	}
	if cfg.MemberFor <= 0 {
		cfg.MemberFor = DefaultMemberFor
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	var id [8]byte
	crand.Read(id[:])
	l := &Limiter{
		client:     client,
		prefix:     "{" + cfg.Name + "}",
		reserve:    cfg.Reserve,
		jitter:     cfg.Jitter,
		minJitter:  cfg.MinJitter,
		blockFor:   cfg.BlockFor,
		idle:       cfg.Idle.Milliseconds(),
		timeout:    cfg.Timeout,
		retryRedis: cfg.RetryRedis,
		recheck:    cfg.Recheck,
		memberFor:  cfg.MemberFor,
		id:         hex.EncodeToString(id[:]),
		newLocal:   cfg.Local,
		rand:       cfg.Rand,
		onError:    cfg.OnError,
	}
	if l.newLocal == nil {
		reserve, jitter, minJitter := cfg.Reserve, cfg.Jitter, cfg.MinJitter
		l.newLocal = func(key string) *ratelimit.Limiter {
			return ratelimit.New(ratelimit.Config{
				Name: key, Reserve: reserve, Jitter: jitter, MinJitter: minJitter,
				BlockFor: cfg.BlockFor, Rand: cfg.Rand,
			})
		}
	}
	return l
}

// Local returns the process's own limiter for key, creating it if needed.
func (l *Limiter) Local(key string) *ratelimit.Limiter {
	if v, ok := l.locals.Load(key); ok {
		return v.(*ratelimit.Limiter)
	}
	v, _ := l.locals.LoadOrStore(key, l.newLocal(key))
	return v.(*ratelimit.Limiter)
}

// Permit is a call admitted by Wait. Report the provider's response with Observe, once.
type Permit struct {
	l        *Limiter
	key      string
	local    ratelimit.Permit
	fleet    bool          // admitted by the fleet's bucket (not by the local limiter alone)
	seq      int64         // the admission's number in the fleet
	tot      int64         // the fleet's tokens admitted up to and including this call
	rep      int64         // the reports the fleet had applied when the call was admitted
	turnMS   int64         // when the call's turn came, in ms on Redis's clock
	waited   time.Duration // the fleet's wait, before jitter
	tokens   int
	localOK  bool      // a valid Permit (Wait admitted the call)
	hasLocal bool      // the local limiter admitted it too, and learns from its response
	sent     time.Time // when Wait let the call go, on this process's clock
}

// Fleet reports whether the fleet's bucket admitted the call; false when Redis failed and the
// local limiter admitted it alone.
func (p Permit) Fleet() bool { return p.fleet }

// Waited returns the wait the fleet's bucket gave the call when it was admitted, before jitter
// (a turn brought forward or moved back later is not counted).
func (p Permit) Waited() time.Duration { return p.waited }

// Turn returns the time the fleet's bucket gave the call, on Redis's clock (zero when Redis
// did not admit it): the last turn it was given, if its turn moved while it waited.
func (p Permit) Turn() time.Time {
	if !p.fleet {
		return time.Time{}
	}
	return time.UnixMilli(p.turnMS)
}

// up reports whether Redis is asked: no failure in the last RetryRedis.
func (l *Limiter) up() bool { return time.Now().UnixNano() >= l.skipUntil.Load() }

// Wait blocks until a call on provider key costing tokens (an estimate of the tokens it will
// use; 0 when only requests are limited) may be sent, and admits it. It first passes the
// process's own limiter (which lets one probe out at a time until it has heard the provider),
// then reserves the call's cost in the fleet's bucket in Redis and waits for the turn it is
// given, with jitter (see LimiterConfig.Jitter and MinJitter), asking Redis for its turn again
// every Recheck while it waits. The wait ends early, with the context's error, when ctx ends
// (the reservation is then given back). When the turn would come after ctx's deadline, Wait
// returns at once an error matching ratelimit.ErrWouldExceedDeadline, and nothing is reserved.
//
// When Redis fails, the call waits for this process's share of the fleet's last known rate
// and is admitted by the local limiter, and OnError is told.
func (l *Limiter) Wait(ctx context.Context, key string, tokens int) (Permit, error) {
	tokens = max(tokens, 0)
	loc := l.Local(key)
	known := l.knownFlag(key)
	p := Permit{l: l, key: key, tokens: tokens, localOK: true}
	if l.up() && known.Load() {
		// The fleet's bucket paces. The local limiter sees only this process's calls (its proofs
		// of the refill rate miss the others'), so it must not hold calls back; it admits what it
		// would admit anyway, and learns from those calls' responses, so that it is ready to pace
		// if Redis fails.
		if lp, wait := loc.AllowAt(time.Now(), tokens); wait == 0 {
			p.local, p.hasLocal = lp, true
		}
	} else {
		if !l.up() {
			if err := l.shareOf(key).wait(ctx); err != nil {
				return Permit{}, err
			}
		}
		lp, err := l.waitLocal(ctx, loc, known, tokens)
		if err != nil {
			return Permit{}, err
		}
		p.local, p.hasLocal = lp.local, lp.hasLocal
	}
	if !l.up() {
		p.sent = time.Now()
		return p, nil
	}
	maxWait := int64(-1)
	if dl, ok := ctx.Deadline(); ok {
		maxWait = max(time.Until(dl).Milliseconds(), 0)
	}
	res, err := l.reserveAt(ctx, key, tokens, maxWait, 0)
	if err != nil {
		if ctx.Err() != nil {
			p.observeLocal(nil, 0)
			return Permit{}, ctx.Err()
		}
		l.down(key, fmt.Errorf("reserve in rate limiter %s for %q: %w", l.prefix, key, err))
		if err := l.shareOf(key).wait(ctx); err != nil {
			p.observeLocal(nil, 0)
			return Permit{}, err
		}
		if !p.hasLocal { // Redis failed after the fleet had the key: pace locally from here
			lp, err := loc.Wait(ctx, tokens)
			if err != nil {
				return Permit{}, err
			}
			p.local, p.hasLocal = lp, true
		}
		p.sent = time.Now()
		return p, nil
	}
	known.Store(res.rep > 0)
	if !res.admitted {
		p.observeLocal(nil, 0)
		return Permit{}, &fleetWaitError{key: key, wait: res.wait}
	}
	p.fleet, p.seq, p.tot, p.rep, p.turnMS, p.waited = true, res.seq, res.tot, res.rep, res.nowMS+res.wait.Milliseconds(), res.wait
	if err := l.waitTurn(ctx, &p, res.wait, res.gate); errors.Is(err, errRedisDown) {
		p.fleet = false
		if err := l.shareOf(key).wait(ctx); err != nil {
			p.observeLocal(nil, 0)
			return Permit{}, err
		}
		if !p.hasLocal {
			lp, err := loc.Wait(ctx, tokens)
			if err != nil {
				return Permit{}, err
			}
			p.local, p.hasLocal = lp, true
		}
	} else if err != nil {
		l.refund(context.WithoutCancel(ctx), key, p.rep, p.seq, tokens)
		p.observeLocal(nil, 0)
		return Permit{}, err
	}
	p.sent = time.Now()
	return p, nil
}

// reservation is reserveScript's reply.
type reservation struct {
	admitted    bool
	wait        time.Duration
	seq, tot    int64
	nowMS, rep  int64
	gate        bool
	members     int64
	limit, rate float64 // the requests bucket's, per second (0: not known)
}

// reserveAt runs reserveScript at nowMS (0: Redis's clock) and remembers the fleet's size and
// rate for the key's share.
func (l *Limiter) reserveAt(ctx context.Context, key string, tokens int, maxWait, nowMS int64) (reservation, error) {
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := reserveScript.Run(rctx, l.client, l.keys(key),
		nowMS, tokens, maxWait, l.reserve, l.idle, l.id, l.memberFor.Milliseconds()).Int64Slice()
	if err == nil && len(res) != 10 {
		err = fmt.Errorf("unexpected reply %v", res)
	}
	if err != nil {
		return reservation{}, err
	}
	r := reservation{
		admitted: res[0] == 1, wait: time.Duration(res[1]) * time.Millisecond,
		seq: res[2], tot: res[3], nowMS: res[4], rep: res[5], gate: res[6] == 1,
		members: res[7], limit: float64(res[8]), rate: float64(res[9]) / 1000,
	}
	// The share starts after the turns this process was given that will be kept if Redis fails
	// (those within Recheck; later ones pace at the share instead).
	next := time.Now().Add(min(r.wait, l.recheck))
	l.shareOf(key).set(r.members, r.limit, r.rate, next)
	return r, nil
}

// errRedisDown is waitTurn's word that Redis failed while the call waited for its turn.
var errRedisDown = errors.New("redis down")

// waitTurn waits for p's turn, wait from now (gate: a 429's block), asking Redis for the turn
// again every Recheck while more than that remains. When Redis fails meanwhile it returns
// errRedisDown: the turn was given by a fleet that no longer paces, and the calls that wait
// must not go at the fleet's turns and at the process's share both.
func (l *Limiter) waitTurn(ctx context.Context, p *Permit, wait time.Duration, gate bool) error {
	if wait <= 0 {
		return nil
	}
	jitter := func(wait time.Duration, gate bool) time.Duration {
		if gate {
			return l.jittered(wait) - wait
		}
		return time.Duration(l.rand() * float64(l.minJitter))
	}
	turn, extra := time.Now().Add(wait), jitter(wait, gate)
	recheck := l.recheck
	for {
		left := time.Until(turn)
		d := left + extra
		if d <= 0 {
			return nil
		}
		again := recheck > 0 && left > recheck
		if again {
			d = recheck
		}
		if dl, ok := ctx.Deadline(); ok && !again {
			d = min(d, max(time.Until(dl), left))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if !again {
			return nil
		}
		if !l.up() {
			return errRedisDown
		}
		w, g, nowMS, err := l.turnAt(ctx, p, 0)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.down(p.key, fmt.Errorf("ask turn in rate limiter %s for %q: %w", l.prefix, p.key, err))
			return errRedisDown
		}
		if g != gate {
			extra = jitter(w, g)
		}
		turn, gate, p.turnMS = time.Now().Add(w), g, nowMS+w.Milliseconds()
	}
}

// turnAt runs turnScript for p at nowMS (0: Redis's clock): its wait from now, whether it is a
// 429's block, and now on the clock used.
func (l *Limiter) turnAt(ctx context.Context, p *Permit, nowMS int64) (time.Duration, bool, int64, error) {
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := turnScript.Run(rctx, l.client, l.keys(p.key),
		nowMS, p.seq, p.tot, p.tokens, l.reserve, member(p.seq, p.tokens)).Int64Slice()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("unexpected reply %v", res)
	}
	if err != nil {
		return 0, false, 0, err
	}
	return time.Duration(res[0]) * time.Millisecond, res[1] == 1, res[2], nil
}

// share paces one process while Redis fails: at 90 % of its share of the fleet's last known
// refill rate (the requests bucket's rate over the members Redis counted), with at most its share of the
// bucket at once, so that the fleet's processes, each pacing alone, do not spend the key's
// limit once each. A key the fleet never had a rate for is not held back here (the local
// limiter paces it alone).
type share struct {
	mu          sync.Mutex
	members     int64
	limit, rate float64   // per second
	next        time.Time // the earliest next call (GCRA's theoretical arrival time)
}

// shareMargin is the part of its share a process alone leaves unused: the processes no longer
// see each other's calls, and their calls, each paced, still arrive in clumps; the margin lets
// the provider's bucket refill enough to absorb them.
const shareMargin = 0.1

func (l *Limiter) shareOf(key string) *share {
	if v, ok := l.shares.Load(key); ok {
		return v.(*share)
	}
	v, _ := l.shares.LoadOrStore(key, new(share))
	return v.(*share)
}

// set records what Redis said of the fleet; nothing is forgotten for a reply without a rate.
// The fleet's bucket admitted a call to go at next: the share starts one call's time after it
// when Redis fails, with no burst saved up while the fleet paced.
func (s *share) set(members int64, limit, rate float64, next time.Time) {
	if members <= 0 || limit <= 0 || rate <= 0 {
		return
	}
	s.mu.Lock()
	s.members, s.limit, s.rate = members, limit, rate
	if after := next.Add(s.every()); s.next.Before(after) {
		s.next = after
	}
	s.mu.Unlock()
}

// describe says how the process paces alone.
func (s *share) describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rate <= 0 {
		return "pacing by the process's own limiter alone (no fleet rate known yet)"
	}
	return fmt.Sprintf("pacing alone at 90 %% of 1/%d of the fleet's %.3g requests/s (%.3g/s, at most %g at once)",
		s.members, s.rate, s.rate*(1-shareMargin)/float64(s.members), s.burst())
}

// every is the time between two calls at the share. s.mu is held.
func (s *share) every() time.Duration {
	return time.Duration(float64(time.Second) * float64(s.members) / (s.rate * (1 - shareMargin)))
}

// burst is how many calls may go at once: the share of the bucket, at least one. s.mu is held.
func (s *share) burst() float64 {
	return max(1, math.Floor(s.limit/float64(s.members)))
}

// wait blocks until the process's share allows a call (at once when no rate is known), or ctx
// ends.
func (s *share) wait(ctx context.Context) error {
	now := time.Now()
	s.mu.Lock()
	if s.rate <= 0 {
		s.mu.Unlock()
		return nil
	}
	every := s.every()
	turn := s.next
	if early := now.Add(-time.Duration(s.burst()-1) * every); turn.Before(early) {
		turn = early
	}
	s.next = turn.Add(every)
	s.mu.Unlock()
	d := turn.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitLocal waits for the local limiter while the fleet has no report of the key's limits (one
// probe at a time per process until the provider has been heard), in slices, so that a caller
// queued behind the local limiter is released as soon as the fleet knows the limits: the local
// limiter then sees only this process's share of the key and would pace it far below the limit.
func (l *Limiter) waitLocal(ctx context.Context, loc *ratelimit.Limiter, known *atomic.Bool, tokens int) (Permit, error) {
	for {
		if l.up() && known.Load() {
			if lp, wait := loc.AllowAt(time.Now(), tokens); wait == 0 {
				return Permit{local: lp, hasLocal: true}, nil
			}
			return Permit{}, nil
		}
		wctx, cancel := context.WithTimeout(ctx, localSlice)
		lp, err := loc.Wait(wctx, tokens)
		cancel()
		if err == nil {
			return Permit{local: lp, hasLocal: true}, nil
		}
		if ctx.Err() != nil {
			return Permit{}, ctx.Err()
		}
		if errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < localSlice {
				return Permit{}, err // the caller's own deadline, not the slice's
			}
			t := time.NewTimer(localSlice / 2)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return Permit{}, ctx.Err()
			}
		}
	}
}

// localSlice is how long a caller waits for the local limiter before it looks again whether
// the fleet knows the key's limits.
const localSlice = 200 * time.Millisecond

// observeLocal reports the response to the local limiter, if it admitted the call.
func (p Permit) observeLocal(h http.Header, status int) {
	if p.hasLocal {
		p.local.Observe(h, status)
	}
}

func (l *Limiter) jittered(d time.Duration) time.Duration {
	spread := max(time.Duration(float64(d)*l.jitter), l.minJitter)
	return d + time.Duration(l.rand()*float64(spread))
}

// refund gives a cancelled reservation back to the bucket, unless a report has replaced the
// bucket since (epoch).
func (l *Limiter) refund(ctx context.Context, key string, epoch, seq int64, tokens int) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := refundScript.Run(ctx, l.client, l.keys(key), 0, epoch, tokens, member(seq, tokens)).Err(); err != nil {
		l.down(key, fmt.Errorf("give back reservation in rate limiter %s for %q: %w", l.prefix, key, err))
	}
}

// Observe reports the provider's response to the admitted call: its header (nil when none)
// and status (0 when no response came). The local limiter always learns from it; the fleet's
// bucket is set from the response's rate-limit headers (the report of the latest admission
// wins, minus what the fleet admitted after the call), and a 429 without them blocks the
// fleet's calls on the key for the delay it asks (retry-after-ms, retry-after; else
// BlockFor). A response with neither costs no round trip. No response at all (nil header and
// status 0: the call was not sent after all, or nothing came back) gives the reservation back,
// as a cancelled Wait does, so that the fleet does not count it as a request taken from the
// bucket. Redis failures go to OnError.
func (p Permit) Observe(ctx context.Context, h http.Header, status int) {
	if !p.localOK {
		return
	}
	// The fleet hears first: the local limiter releases the calls that queued behind its probe
	// when it hears, and they must find the fleet's bucket set, not empty of any report (an
	// unknown bucket admits every call at once).
	if p.l.up() {
		p.observe(ctx, h, status, time.Now(), 0)
	}
	p.observeLocal(h, status)
}

// observe reports the response to the fleet at now (nowMS on Redis's clock; 0: Redis's own).
func (p Permit) observe(ctx context.Context, h http.Header, status int, now time.Time, nowMS int64) {
	l := p.l
	if h == nil && status == 0 && p.fleet {
		// Not sent (a breaker refused it after its turn came), or no response: the turn goes
		// back. Kept, it counted as a request taken from the bucket, and the pairs of reports
		// around it proved a refill that never was: a fleet whose breaker refused the primary's
		// calls through a 10 s outage proved 37.8/s for a true 20/s, and sent 30 a second after
		// the recovery (4–5 % 429s).
		l.refund(ctx, p.key, p.rep, p.seq, p.tokens)
		return
	}
	// The provider counted the call and computed its reset when the request arrived, about when
	// it was sent, not when the answer (or this process, late under load) got round to it:
	// resets given as durations are anchored there, and every reset's distance is measured from
	// there, so that an answer's latency does not shorten the reset and inflate the refill rate
	// (which only ever ratchets up under one limit).
	at := p.sent
	if at.IsZero() || at.After(now) {
		at = now
	}
	rep := ratelimit.ParseHeader(h, at)
	var blockMS int64
	if status == http.StatusTooManyRequests && !rep.Requests.Known && !rep.Tokens.Known {
		d, ok := rebound.DelayHint(status, h, now)
		if !ok {
			d = l.blockFor
		}
		blockMS = max(d.Milliseconds(), 1)
	}
	if blockMS == 0 && (!p.fleet || !rep.Requests.Known && !rep.Tokens.Known) {
		return
	}
	if !p.fleet { // a 429 seen by a call paced locally still blocks the fleet
		p.seq, p.tot, p.turnMS = -1, 0, 0
		rep = ratelimit.Report{}
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	too := 0
	if status == http.StatusTooManyRequests {
		too = 1
	}
	args := []any{nowMS, p.seq, p.tot, p.turnMS, blockMS, l.idle, too}
	for _, b := range []ratelimit.Bucket{rep.Requests, rep.Tokens} {
		if !b.Known {
			args = append(args, 0, 0, 0, 0)
			continue
		}
		args = append(args, 1, b.Limit, b.Remaining, resetMS(b, at))
	}
	args = append(args, member(p.seq, p.tokens))
	if err := observeScript.Run(ctx, l.client, l.keys(p.key), args...).Err(); err != nil {
		l.down(p.key, fmt.Errorf("report response to rate limiter %s for %q: %w", l.prefix, p.key, err))
	} else if rep.Requests.Known || rep.Tokens.Known {
		l.knownFlag(p.key).Store(true)
	}
}

// resetMS is b's reset in whole ms from at, rounded up (a shorter reset would prove a faster
// refill than the provider's figures do: a reset 50.7 ms away sent as 50 ms proves 20/s for
// 19.7/s), and half a millisecond more for a duration rounded to the millisecond (OpenAI's).
func resetMS(b ratelimit.Bucket, at time.Time) int64 {
	d := b.Reset.Sub(at)
	if b.ResetIn > 0 {
		d = b.ResetIn + time.Millisecond/2
	}
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 0)
}

// Bucket is the fleet's view of one limit of a key.
type Bucket struct {
	// Known is false until a response reported this limit.
	Known bool
	// Limit is the bucket's capacity; Level what it holds now (negative while calls wait for
	// their reserved turns); Rate its refill in units per second.
	Limit, Level, Rate float64
}

// LimitState is the fleet's view of a key's limits.
type LimitState struct {
	Requests, Tokens Bucket
	// Admitted counts the calls the fleet admitted while the key's state was kept.
	Admitted int64
	// BlockedFor is how long the fleet's calls remain blocked by a 429 (0: not blocked).
	BlockedFor time.Duration
	// Proved is the requests bucket's refill rate (per second) that the reports proved; Rate
	// may be higher in the first 250 ms, before a pair of reports can prove anything.
	Proved float64
	// Members counts the limiters (processes) that reserved a call on the key within MemberFor.
	Members int
}

// State returns the fleet's view of key's limits, on Redis's clock.
func (l *Limiter) State(ctx context.Context, key string) (LimitState, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := stateScript.Run(ctx, l.client, l.keys(key), 0, l.memberFor.Milliseconds()).StringSlice()
	if err != nil {
		return LimitState{}, fmt.Errorf("read rate limiter %s for %q: %w", l.prefix, key, err)
	}
	if len(res) != 10 {
		return LimitState{}, fmt.Errorf("read rate limiter %s for %q: unexpected reply %v", l.prefix, key, res)
	}
	var f [10]float64
	for i, s := range res {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return LimitState{}, fmt.Errorf("read rate limiter %s for %q: field %d %q: %w", l.prefix, key, i, s, err)
		}
		f[i] = v
	}
	return LimitState{
		Requests:   Bucket{Known: f[2] > 0, Limit: f[2], Level: f[3], Rate: f[4] * 1000},
		Tokens:     Bucket{Known: f[5] > 0, Limit: f[5], Level: f[6], Rate: f[7] * 1000},
		Admitted:   int64(f[0]),
		BlockedFor: time.Duration(f[1]) * time.Millisecond,
		Proved:     f[8] * 1000,
		Members:    int(f[9]),
	}, nil
}

// keys returns the Redis keys of key's state: its hash, its sorted set of reservations, its
// history of reports and its members.
func (l *Limiter) keys(key string) []string {
	return []string{l.prefix + ":k:" + key, l.prefix + ":p:" + key, l.prefix + ":h:" + key, l.prefix + ":m:" + key, l.prefix + ":d:" + key}
}

// member is a reservation's member in the sorted set.
func member(seq int64, tokens int) string {
	return strconv.FormatInt(seq, 10) + ":" + strconv.Itoa(tokens)
}

// down reports err, saying how key's calls are paced now, and paces alone for RetryRedis.
func (l *Limiter) down(key string, err error) {
	l.skipUntil.Store(time.Now().Add(l.retryRedis).UnixNano())
	if l.onError != nil {
		l.onError(&DegradedError{Err: err, Pacing: l.shareOf(key).describe()})
	}
}

// DegradedError is what OnError is told of a Redis failure of the limiter: the failure, and how
// the process paces meanwhile (for RetryRedis, then Redis is asked again).
type DegradedError struct {
	Err    error
	Pacing string // "pacing alone at 1/4 of the fleet's 19.6 requests/s (4.9/s, at most 5 at once)"
}

func (e *DegradedError) Error() string { return e.Err.Error() + "; " + e.Pacing }

func (e *DegradedError) Unwrap() error { return e.Err }

type fleetWaitError struct {
	key  string
	wait time.Duration
}

func (e *fleetWaitError) Error() string {
	return fmt.Sprintf("fleet rate limit %q: the wait (%s) would pass the deadline", e.key, e.wait.Round(time.Millisecond))
}

func (e *fleetWaitError) Is(target error) bool { return target == ratelimit.ErrWouldExceedDeadline }

// Pace returns the pacing function (a pipeline.PaceFunc) that waits under the fleet's view of
// key's limit whatever the call's own key, for llm.Config.Pace: the models of one API key share
// it (llm.Config{Pace: lim.Pace("anthropic/team-a")}).
func (l *Limiter) Pace(key string) pipeline.PaceFunc {
	return func(ctx context.Context, _ string, tokens int) (func(http.Header, int), error) {
		return l.pace(ctx, key, tokens)
	}
}

// PaceRequest is a pipeline.PaceFunc that waits under the fleet's view of the call's own key,
// for httpx.Config.Pace: a request to the host named key waits its turn under that host's
// limit (pass the method value, httpx.Config{Pace: limiter.PaceRequest}).
func (l *Limiter) PaceRequest(ctx context.Context, key string, tokens int) (report func(h http.Header, status int), err error) {
	return l.pace(ctx, key, tokens)
}

// pace waits for the call's turn and returns the function that reports its response to the
// Permit, with a context detached from the call's, which may have ended by then.
func (l *Limiter) pace(ctx context.Context, key string, tokens int) (func(http.Header, int), error) {
	p, err := l.Wait(ctx, key, tokens)
	if err != nil {
		return nil, err
	}
	return func(h http.Header, status int) {
		p.Observe(context.WithoutCancel(ctx), h, status)
	}, nil
}
