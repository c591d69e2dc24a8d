package ratelimit

import (
	"math"
	"time"
)

// send is one admission, kept until no report can have missed it.
type send struct {
	seq    uint64
	at     time.Time
	tokens float64
	done   bool // its response was observed
	spent  bool // its response was one that took a request from the bucket (not a 429)
}

// bucket is what the provider reported on one limit: the report of the latest admission that
// has reported, the refill rate the reports prove, and a short history of reports to prove it
// from.
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
	// hist holds earlier reports (one per histEvery, for histSpan) to prove the rate from pairs.
	hist []report
	// The search for a higher rate by timing (see phase): hi is the lowest rate a report of a
	// full bucket failed to prove (at hiAt; a hint, not a bound), armK the whole second an
	// admission is being held for, and pend the rate the last timed admission (pendSeq) is to
	// prove, until its report comes.
	hi      float64
	hiAt    time.Time
	armK    time.Time
	armAt   time.Time
	testK   time.Time // the whole second of the last timed admission
	pend    float64
	pendSeq uint64
	pendAt  time.Time
}

// rateMemory is how long a proven refill rate is trusted without a report proving it again.
const rateMemory = 30 * time.Second

// The history of reports the refill rate is proved from: pairs of reports at least pairSpan
// apart (so that a few milliseconds' error on when a call reached the provider is a small share
// of the span), at most histSpan and maxPairCalls admissions apart, one kept per histEvery.
const (
	pairSpan     = 200 * time.Millisecond
	histSpan     = 10 * time.Second
	histEvery    = 50 * time.Millisecond
	maxPairCalls = 256
)

// report is one response's word on a bucket: it held remaining of limit when the call admitted
// at snap (the seq-th admission) arrived, and will be full at reset.
type report struct {
	remaining float64
	seq       uint64
	snap      time.Time
	reset     time.Time
	resetIn   time.Duration // the reset as a duration from the provider's figures, if sent so
	resetAt   time.Time     // the reset as an absolute time, if sent so, even if past when read
}

// sentReset is the reset the provider sent: resetAt if it was an absolute time (reset is never
// earlier than the response was read), otherwise reset.
func (r report) sentReset() time.Time {
	if !r.resetAt.IsZero() {
		return r.resetAt
	}
	return r.reset
}

// add records a report if it is of a later admission than the one kept, and the refill rate it
// proves (see prove). spent(h, r) counts the calls the provider surely counted against this
// limit after report h's and up to r's; nil: the history is not used (tokens, whose cost per
// call is only an estimate).
func (b *bucket) add(now time.Time, limit float64, r report, spent func(h, r report) float64) {
	if b.have && limit != b.limit {
		b.rate, b.rateAt = 0, time.Time{}
		b.hist = b.hist[:0]
	}
	b.prove(now, b.proveOne(limit, r))
	b.judge(now, limit, r)
	if spent != nil {
		// Pair r with the kept reports 1, 2, 4, 8, ... back: short pairs prove a rate while the
		// bucket refills from empty to full (a small burst fills in a fraction of a second at the
		// rate in use), long ones prove it within a fraction of a call per second.
		for k := 1; k <= len(b.hist); k *= 2 {
			h := b.hist[len(b.hist)-k]
			if h.seq < r.seq && r.snap.Sub(h.snap) >= pairSpan {
				b.prove(now, provePair(h, r, limit, spent(h, r)))
			}
		}
		b.keep(r)
	}
	if b.have && len(b.reports) > 0 && r.seq < b.reports[0].seq && limit == b.limit {
		return
	}
	b.have, b.limit = true, limit
	b.reports = append(b.reports[:0], r)
}

// prove raises the refill rate to a proved one, or replaces a rate not proved again within
// rateMemory.
func (b *bucket) prove(now time.Time, proved float64) {
	if proved <= 0 {
		return
	}
	if proved >= b.rate || now.Sub(b.rateAt) > rateMemory {
		b.rate, b.rateAt = proved, now
	}
}

// proveOne is the refill rate one report proves: the bucket gains more than limit-remaining-1 by
// the reset (remaining is rounded down), so its rate is at least that over the time from snap to
// reset (a reset rounded up, as Anthropic's whole seconds are, only makes the bound lower). A
// reset sent as a duration counts from when the provider took its figures, not from when the
// answer came back: it proves the rate without the answer's latency in the way.
//
// A report of limit-1 is exact: the bucket cannot have held more than limit before the call, so
// it held limit and then limit-1, and gains exactly 1 by the reset. A duration rounded to the
// millisecond (OpenAI's) may be up to half a millisecond short.
func (b *bucket) proveOne(limit float64, r report) float64 {
	span := r.sentReset().Sub(r.snap)
	if r.resetIn > 0 {
		span = r.resetIn + time.Millisecond/2
	}
	gain := limit - r.remaining - 1
	if r.remaining == limit-1 {
		gain = 1
	}
	if gain > 0 && span > 0 {
		return gain / span.Seconds()
	}
	return 0
}

// The search for a higher rate by timing. While the bucket is full before every call (the rate
// in use is below the true one, as a small bucket refills between calls), every report says
// remaining = limit-1 and pairs of reports prove only the rate in use. What the provider's
// clock says proves more: the call that left limit-1 at a, refilled by the reset k (a whole
// second, rounded up), shows the bucket gains a call in k-a, so a call that reaches the
// provider at k-ε just before a whole second, and whose reset is k, proves a rate of at least
// 1/ε (proveOne). phase holds one admission a second, no longer than the pacing spaces
// admissions (so no admission is added, only moved), to reach the provider 1/target before a
// whole second: target is growth times the proved rate (or the target still pending) while no
// such call has failed, and then the geometric mean of the proved rate and the lowest failure
// (hi), a bisection. Each step takes an answer's latency to learn; a bucket of 2 at 20/s
// answered after 1 s is paced at 16/s about 4 s after the first answer, at 19.5/s after 9 s
// (it took 15 s without the timing). A failed timed call proves nothing and costs nothing: it
// was admitted by the pacing as any other.
const (
	// growth is the factor of the target over the proved rate before any timed call failed.
	growth = 4
	// hiMemory is how long a failed target steers the search.
	hiMemory = 5 * time.Second
	// maxTarget bounds the target (ε at least 2 ms).
	maxTarget = 500
	// pendFor is how long a timed admission's target counts as pending without its report.
	pendFor = 3 * time.Second
)

// whole reports whether r's reset was sent as a time, in whole seconds (Anthropic's): the resets
// phase's timing proves from.
func (b *bucket) whole(r report) bool {
	return !r.resetAt.IsZero() && r.resetAt.Nanosecond() == 0
}

// nextSecond is the first whole second after t.
func nextSecond(t time.Time) time.Time {
	return t.Truncate(time.Second).Add(time.Second)
}

// judge notes the outcome of a timed admission's report: one of a full bucket (remaining =
// limit-1) with a reset past the first whole second k after its call failed to prove
// 1/(k-snap), which becomes hi (a hint for the search, not a bound: the call reached the
// provider a little after snap); one with the reset k proved it (proveOne), and clears a lower
// hint. A report of a bucket that was not full says nothing either way.
func (b *bucket) judge(now time.Time, limit float64, r report) {
	if r.seq > b.pendSeq {
		b.pend = 0
	}
	if r.seq != b.pendSeq {
		return
	}
	b.pend = 0
	if r.resetAt.IsZero() || r.resetAt.Nanosecond() != 0 || r.remaining != limit-1 {
		return
	}
	k := nextSecond(r.snap)
	rate := 1 / k.Sub(r.snap).Seconds()
	if r.resetAt.After(k) {
		if b.hi == 0 || rate < b.hi || now.Sub(b.hiAt) > hiMemory {
			b.hi, b.hiAt = rate, now
		}
	} else if rate >= b.hi {
		b.hi = 0
	}
}

// target is the rate the next timed admission is to prove.
func (b *bucket) target(now time.Time) float64 {
	lo := b.rate
	pend := b.pend
	if now.Sub(b.pendAt) > pendFor {
		pend = 0
	}
	var t float64
	if hi := b.hi; hi > lo && now.Sub(b.hiAt) <= hiMemory {
		if pend > lo && pend < hi {
			hi = pend // pending: count it as failed, to try below it meanwhile
		}
		t = math.Sqrt(lo * hi)
	} else {
		t = growth * max(lo, pend)
	}
	return min(max(t, 1.01*lo), maxTarget)
}

// phase returns how long to hold an admission the pacing allows at now (0: none), and whether
// an admission at now is a timed one. The hold is at most the time the pacing would leave
// before the admission after this one (the bucket, as estimated, holds the cost of this call
// and of at most a part of the next), so that it moves the admission without adding one or
// delaying the next; and there is one timed admission a second at most.
// No hold passes deadline (nonzero: the caller's context's).
func (l *Limiter) phase(now, deadline time.Time) (time.Duration, bool) {
	b := &l.requests
	if len(b.reports) == 0 || b.rate <= 0 || !b.whole(b.reports[0]) {
		b.armK = time.Time{}
		return 0, false
	}
	if !b.armK.IsZero() && !now.Before(b.armAt) && now.Sub(b.armAt) <= b.armK.Sub(b.armAt)/4 {
		return 0, true // the hold is over (a timer may fire late)
	}
	b.armK = time.Time{}
	eps := time.Duration(float64(time.Second) / b.target(now))
	k := nextSecond(now.Add(eps))
	if now.Add(eps).Equal(k.Add(-time.Second)) {
		k = k.Add(-time.Second)
	}
	if !k.After(b.testK) {
		k = b.testK.Add(time.Second) // one timed admission a second
	}
	at := k.Add(-eps)
	d := at.Sub(now)
	if d == 0 {
		b.armK, b.armAt = k, at
		return 0, true
	}
	r := b.reports[0]
	need := min(1+l.cfg.Reserve*b.limit, b.limit)
	if d > time.Duration(float64(time.Second)/b.rate) || !deadline.IsZero() && now.Add(d).After(deadline) || levelFloor(b, r, len(l.sends)) >= need+1 {
		return 0, false
	}
	level := l.levelAt(now, b, r, b.rate, false)
	if d.Seconds() > (need+1-level)/b.rate {
		return 0, false
	}
	b.armK, b.armAt = k, at
	return d, false
}

// timed records that the seq-th admission is a timed one, at now.
func (b *bucket) timed(now time.Time, seq uint64) {
	if !b.armK.IsZero() {
		b.pend, b.pendSeq, b.pendAt = 1/b.armK.Sub(now).Seconds(), seq, now
		b.testK = b.armK
	}
	b.armK = time.Time{}
}

// provePair is the refill rate two reports of one bucket prove: from the earlier report h to
// the later r the bucket lost the n calls counted in between (r's own included) and ended with
// r.remaining, so it gained at least r.remaining-(h.remaining+1)+n (remaining is rounded down),
// and more if it was full for a while in between. Over a second or more this bound is within a
// call or two of the true rate whatever the rounding of the resets: with a burst of 5 at 20/s,
// where one report proves 3.75/s at best under whole-second resets, a pair 4 s apart proves
// about 19.5/s.
//
// When h reported limit-1 its figure is exact (see proveOne), and the gain is at least
// r.remaining-h.remaining+n.
//
// The span is taken between the two calls' admissions widened by reorderWindow: the calls reach
// the provider after a way of their own, and if r's took up to that much longer than h's, the
// bucket had that much longer to gain what it gained. Without the widening, a way that varies
// by 0–20 ms made pairs 200 ms apart prove up to a tenth more than the true rate: 629 429s in
// 30 s at a burst of 2 (5 with it).
func provePair(h, r report, limit, n float64) float64 {
	span := (r.snap.Sub(h.snap) + reorderWindow).Seconds()
	gain := r.remaining - h.remaining - 1 + n
	if h.remaining == limit-1 {
		gain++
	}
	if gain > 0 && span > 0 {
		return gain / span
	}
	return 0
}

// keep adds r to the history if the newest kept is histEvery older, and forgets the reports
// too old or too many admissions back to pair with a new one.
func (b *bucket) keep(r report) {
	i := 0
	for i < len(b.hist) && (r.snap.Sub(b.hist[i].snap) > histSpan || r.seq-min(r.seq, b.hist[i].seq) > maxPairCalls) {
		i++
	}
	b.hist = append(b.hist[:0], b.hist[i:]...)
	if n := len(b.hist); n == 0 || r.snap.Sub(b.hist[n-1].snap) >= histEvery && r.seq > b.hist[n-1].seq {
		b.hist = append(b.hist, r)
	}
}

// reorderWindow is how much earlier than the reported call a call may have been admitted and
// still have reached the provider after it: such calls are counted as not in the report.
const reorderWindow = 20 * time.Millisecond

// counted reports whether report r surely counted send s: s was admitted before the reported
// call, well before (reorderWindow), and its response has come back.
func (r report) counted(now time.Time, s send) bool {
	inFlight := !s.done && now.Sub(s.at) < inFlightFor
	return s.seq < r.seq && s.at.Before(r.snap.Add(-reorderWindow)) && !inFlight || s.seq == r.seq
}

// levelAt is the bucket's estimated content at now: what report r said it held, refilled since
// and spent by every call the report may not have counted, each at its admission, the bucket
// never holding more than limit. The cap is applied at each call, not once to the sum: calls in
// flight were taken from a bucket that has refilled since, so a request limit bounds the rate of
// calls, not the number in flight. tokens selects the calls' token costs instead of one request
// each.
func (l *Limiter) levelAt(now time.Time, b *bucket, r report, rate float64, tokens bool) float64 {
	level, t := r.remaining, r.snap
	// Only the tail of the record can hold calls the report did not count: go back to the
	// oldest admission that is after the report, close before it, or still in flight.
	start, pending := len(l.sends), l.inflight
	for start > 0 {
		s := l.sends[start-1]
		if r.counted(now, s) && s.at.Before(r.snap.Add(-reorderWindow)) && pending <= 0 {
			break
		}
		if !s.done {
			pending--
		}
		start--
	}
	for _, s := range l.sends[start:] {
		if r.counted(now, s) {
			continue
		}
		cost := 1.0
		if tokens {
			cost = s.tokens
		}
		if s.at.After(t) {
			level = min(b.limit, level+rate*s.at.Sub(t).Seconds())
			t = s.at
		}
		level -= cost
	}
	if now.After(t) {
		level = min(b.limit, level+rate*now.Sub(t).Seconds())
	}
	return level
}

// levelFloor is a lower bound of levelAt for the request bucket with kept admissions in the
// record: levelAt starts from the report's remaining, never refills above the limit, and takes
// one request off for each kept admission at most, so it never falls below the smaller of the
// two less kept.
func levelFloor(b *bucket, r report, kept int) float64 {
	return min(r.remaining, b.limit) - float64(kept)
}

// rateOf is the refill rate to pace by: the proved one, or before any is proved the one that
// fills the bucket from the report's remaining by its reset (or, for a report of a full bucket,
// the whole limit over the providers' window of a minute).
func (b *bucket) rateOf(r report) float64 {
	if b.rate > 0 {
		return b.rate
	}
	span := r.reset.Sub(r.snap)
	if r.resetIn > 0 {
		span = r.resetIn
	}
	if gain := b.limit - r.remaining; gain > 0 && span > 0 {
		return gain / span.Seconds()
	}
	return b.limit / time.Minute.Seconds()
}

// waitFor returns how long until the bucket holds cost plus the reserve (0: now).
func (l *Limiter) waitFor(now time.Time, b *bucket, r report, cost float64, tokens bool) time.Duration {
	need := min(cost+l.cfg.Reserve*b.limit, b.limit)
	if !tokens && levelFloor(b, r, len(l.sends)) >= need {
		// Room even if every call kept were uncounted and nothing refilled: levelAt's walk
		// over the calls in flight (thousands under load, for every admission) is not needed.
		return 0
	}
	rate := b.rateOf(r)
	level := l.levelAt(now, b, r, rate, tokens)
	if level >= need {
		return 0
	}
	return max(time.Duration((need-level)/rate*float64(time.Second)), time.Millisecond)
}
