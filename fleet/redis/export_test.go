package fleetredis

import (
	"context"
	"net/http"
	"time"
)

// The limiter's steps on a clock of the test's own (ms on the scripts' clock, given to Redis
// instead of its TIME), for simulations that must not depend on the machine's speed.

// ReserveAt reserves a call on key at nowMS, as Wait does, and returns its permit and wait.
func (l *Limiter) ReserveAt(ctx context.Context, key string, tokens int, nowMS int64) (Permit, time.Duration, error) {
	res, err := l.reserveAt(ctx, key, tokens, -1, nowMS)
	if err != nil {
		return Permit{}, 0, err
	}
	p := Permit{l: l, key: key, tokens: tokens, localOK: true, fleet: true, seq: res.seq, tot: res.tot,
		rep: res.rep, turnMS: res.nowMS + res.wait.Milliseconds(), waited: res.wait}
	return p, res.wait, nil
}

// TurnAt asks for p's turn again at nowMS, as a waiting Wait does every Recheck.
func (l *Limiter) TurnAt(ctx context.Context, p *Permit, nowMS int64) (time.Duration, error) {
	w, _, now, err := l.turnAt(ctx, p, nowMS)
	if err == nil {
		p.turnMS = now + w.Milliseconds()
	}
	return w, err
}

// ObserveAt reports the response to p, sent at sentMS, at nowMS.
func (p Permit) ObserveAt(ctx context.Context, h http.Header, status int, sentMS, nowMS int64) {
	p.sent = time.UnixMilli(sentMS)
	p.observe(ctx, h, status, time.UnixMilli(nowMS), nowMS)
}

// Share is the pacing of a process alone while Redis fails: members limiters sharing a bucket
// of limit refilled at rate a second.
type Share = share

// NewShare returns the share of one of members limiters.
func NewShare(members int64, limit, rate float64) *Share {
	s := new(share)
	s.set(members, limit, rate, time.Time{})
	return s
}

// Wait waits for the share's next call.
func (s *Share) Wait(ctx context.Context) error { return s.wait(ctx) }
