package breaker

import "time"

// window counts the calls, failures and slow calls of the recent past: either the last n calls
// (a ring of outcomes) or the calls of the last period (a ring of numBuckets buckets). Both
// record in O(1). It is guarded by the breaker's mutex.
type window struct {
	calls, failures, slow int

	// count-based
	ring []uint8 // bit 0: failure, bit 1: slow; 4 = slot holds a call
	next int

	// time-based
	buckets  []bucket
	bucketNS int64
	epoch    int64 // bucket number (unix ns / bucketNS) of the newest bucket
}

type bucket struct{ calls, failures, slow int }

const (
	markFailure uint8 = 1
	markSlow    uint8 = 2
	markCall    uint8 = 4
)

func newWindow(size int, period time.Duration) window {
	if period > 0 {
		ns := int64(period) / numBuckets
		if ns <= 0 {
			ns = 1
		}
		return window{buckets: make([]bucket, numBuckets), bucketNS: ns}
	}
	return window{ring: make([]uint8, size)}
}

func (w *window) timed() bool { return w.buckets != nil }

// add records one call at now (now is used only by a time-based window).
func (w *window) add(now time.Time, failure, slow bool) {
	m := markCall
	if failure {
		m |= markFailure
	}
	if slow {
		m |= markSlow
	}
	if !w.timed() {
		old := w.ring[w.next]
		if old&markCall != 0 {
			w.calls--
			if old&markFailure != 0 {
				w.failures--
			}
			if old&markSlow != 0 {
				w.slow--
			}
		}
		w.ring[w.next] = m
		w.next++
		if w.next == len(w.ring) {
			w.next = 0
		}
	} else {
		w.roll(now)
		b := &w.buckets[w.epoch%numBuckets]
		b.calls++
		if failure {
			b.failures++
		}
		if slow {
			b.slow++
		}
	}
	w.calls++
	if failure {
		w.failures++
	}
	if slow {
		w.slow++
	}
}

// roll drops the buckets older than the window's period at now.
func (w *window) roll(now time.Time) {
	e := now.UnixNano() / w.bucketNS
	if e <= w.epoch {
		return
	}
	n := e - w.epoch
	if n > numBuckets || w.epoch == 0 {
		n = numBuckets
	}
	for i := int64(1); i <= n; i++ {
		b := &w.buckets[(w.epoch+i)%numBuckets]
		w.calls -= b.calls
		w.failures -= b.failures
		w.slow -= b.slow
		*b = bucket{}
	}
	w.epoch = e
}

func (w *window) reset() {
	w.calls, w.failures, w.slow = 0, 0, 0
	clear(w.ring)
	w.next = 0
	clear(w.buckets)
	w.epoch = 0
}
