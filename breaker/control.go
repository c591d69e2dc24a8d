package breaker

import (
	"context"
	"time"
)

// ForceOpen pins the breaker open: every call is refused (OpenError with a zero Until) until
// ForceClosed or Reset. Outcomes of calls admitted before are dropped.
func (b *Breaker) ForceOpen() {
	b.mu.Lock()
	b.forced = forcedOpen
	ch := b.setState(Open, time.Time{})
	b.openUntil = time.Time{}
	b.mu.Unlock()
	b.notify(context.Background(), ch)
}

// ForceClosed pins the breaker closed: every call is admitted and no outcome is counted, until
// ForceOpen or Reset.
func (b *Breaker) ForceClosed() {
	b.mu.Lock()
	b.forced = forcedClosed
	ch := b.setState(Closed, time.Time{})
	b.mu.Unlock()
	b.notify(context.Background(), ch)
}

// Trip opens a closed breaker as its own failures would have: calls are refused until its open
// time (Settings.OpenFor, with jitter) has passed, then probes decide, as after any opening.
// It is for a caller with evidence the breaker's own counts do not hold (package fleet/redis
// trips a breaker on its first failure while another process's breaker is open on the same
// dependency). It reports when the breaker will admit a probe, and false, changing nothing,
// when the breaker was not closed or is forced. Outcomes of calls admitted before are dropped.
func (b *Breaker) Trip() (until time.Time, ok bool) {
	b.mu.Lock()
	if b.state != Closed || b.forced != notForced {
		b.mu.Unlock()
		return time.Time{}, false
	}
	ch := b.setState(Open, time.Time{})
	until = b.openUntil
	b.mu.Unlock()
	b.notify(context.Background(), ch)
	return until, true
}

// Reset returns the breaker to its first state: closed, unforced, with empty counts and the
// first open time (Settings.OpenFor).
func (b *Breaker) Reset() {
	b.mu.Lock()
	b.forced = notForced
	b.openFor = b.s.OpenFor
	ch := b.setState(Closed, time.Time{})
	b.mu.Unlock()
	b.notify(context.Background(), ch)
}

// idle reports whether the breaker is closed and unforced: forgetting it loses nothing but
// counts (and the outcomes of calls in flight, which then go to a breaker no longer in the Set).
func (b *Breaker) idle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == Closed && b.forced == notForced
}
