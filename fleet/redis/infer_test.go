package fleetredis_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	fleetredis "github.com/rebound-go/rebound/fleet/redis"
)

// t0 is a whole second on the tests' clock (ms), so that resets in whole seconds are exact.
const t0 = int64(1764633600000)

func at(ms int64) time.Time { return time.UnixMilli(ms) }

// TestLimiterProvesRateFromPair: one report proves little of a rate under a reset a minute
// away; a pair of reports 2 s apart, with 10 calls of the fleet in between, proves it within a
// call: the bucket went from 50 to 45 while it lost 10, so it gained at least 45-50+10-1 = 4 in
// 2 s (remaining is rounded down), 2 a second, exactly.
func TestLimiterProvesRateFromPair(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	reset := at(t0 + 60000)
	p0, _, err := l.ReserveAt(ctx, providerKey, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	p0.ObserveAt(ctx, anthropicHeader("100", "50", reset), http.StatusOK, t0, t0)
	st, _ := l.State(ctx, providerKey)
	if want := 49.0 / 60; math.Abs(st.Proved-want) > 1e-12 { // Redis keeps 14 digits
		t.Fatalf("proved %v a second from one report of 50 of 100 full in 60 s, want %v", st.Proved, want)
	}
	var ps []fleetredis.Permit
	for range 9 {
		p, _, _ := l.ReserveAt(ctx, providerKey, 0, t0+100)
		ps = append(ps, p)
	}
	for i, p := range ps { // 100 ms after the first: too close to pair with it
		p.ObserveAt(ctx, anthropicHeader("100", []string{"49", "48", "47", "46", "45", "44", "43", "42", "41"}[i], reset), http.StatusOK, t0+100, t0+100)
	}
	p10, _, _ := l.ReserveAt(ctx, providerKey, 0, t0+2000)
	p10.ObserveAt(ctx, anthropicHeader("100", "45", reset), http.StatusOK, t0+2000, t0+2000)
	st, _ = l.State(ctx, providerKey)
	if st.Proved != 2 || st.Requests.Rate != 2 {
		t.Fatalf("proved %v, pacing at %v a second after a pair 2 s apart, want 2 and 2", st.Proved, st.Requests.Rate)
	}
}

// TestLimiterTurnMovesWithReports: a call queued behind an empty bucket learns, when it asks
// again, that a later report found room: its turn comes at once instead of 2.5 s on.
func TestLimiterTurnMovesWithReports(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	l := fleetredis.NewLimiter(c, fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	p0, _, _ := l.ReserveAt(ctx, providerKey, 0, t0)
	p1, _, _ := l.ReserveAt(ctx, providerKey, 0, t0)
	// Empty, full in 10 s: a seed of 10 a 10 s (1 a second) until a pair proves more.
	p0.ObserveAt(ctx, anthropicHeader("10", "0", at(t0+10000)), http.StatusOK, t0, t0)
	q, w, _ := l.ReserveAt(ctx, providerKey, 0, t0)
	// Behind p1 (in flight, not in the report): the level is -1, and q needs 1 plus the
	// reserve (0.5): 2.5 s at 1 a second.
	if w != 2500*time.Millisecond {
		t.Fatalf("q waits %v, want 2.5s", w)
	}
	if w, _ := l.TurnAt(ctx, &q, t0+100); w != 2400*time.Millisecond {
		t.Fatalf("asked again 100 ms later, q waits %v, want 2.4s (the same turn)", w)
	}
	p1.ObserveAt(ctx, anthropicHeader("10", "9", at(t0+1000)), http.StatusOK, t0, t0+100)
	if w, _ := l.TurnAt(ctx, &q, t0+100); w != 0 {
		t.Fatalf("after a report of 9 left, q waits %v, want its turn at once", w)
	}
	if got := q.Turn(); !got.Equal(at(t0 + 100)) {
		t.Fatalf("q's turn %v, want %v", got, at(t0+100))
	}
}

// TestShare: while Redis fails, each of 4 processes paces at 90 % of its quarter of the fleet's 20 a
// second (4.5), at most 5 calls at once: 10 calls take 5 at once, then one every 222 ms.
func TestShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := fleetredis.NewShare(4, 20, 20)
		start := time.Now()
		var times []time.Duration
		for range 10 {
			if err := s.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(start))
		}
		const every = 222222222 * time.Nanosecond // 1 s / 4.5
		want := []time.Duration{0, 0, 0, 0, 0, every, 2 * every, 3 * every, 4 * every, 5 * every}
		for i := range want {
			if times[i] != want[i] {
				t.Fatalf("calls went at %v, want %v", times, want)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait with an ended context = %v", err)
		}
	})
}

// TestLimiterRedisGonePacesAtShare: two processes used the fleet's bucket; when Redis goes
// away, OnError names the failure and the share each process now paces at.
func TestLimiterRedisGonePacesAtShare(t *testing.T) {
	c, prefix := testRedis(t)
	ctx := t.Context()
	var log errorLog
	gone := newClient(t, c)
	a := fleetredis.NewLimiter(gone, fleetredis.LimiterConfig{Name: prefix, OnError: log.add})
	b := fleetredis.NewLimiter(newClient(t, c), fleetredis.LimiterConfig{Name: prefix, OnError: failOnError(t)})
	p, _ := a.Wait(ctx, providerKey, 0)
	p.Observe(ctx, openaiHeader("10", "0", "1s"), http.StatusOK) // 9 a second at least
	if _, err := b.Wait(ctx, providerKey, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Wait(ctx, providerKey, 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.State(ctx, providerKey); st.Members != 2 {
		t.Fatalf("members %d, want 2", st.Members)
	}
	gone.Close()
	p, err := a.Wait(ctx, providerKey, 0)
	if err != nil || p.Fleet() {
		t.Fatalf("Wait with Redis gone = %v, fleet %v; want a local admission", err, p.Fleet())
	}
	errs := log.all()
	var de *fleetredis.DegradedError
	if len(errs) != 1 || !errors.As(errs[0], &de) || !strings.Contains(de.Pacing, "pacing alone at 90 % of 1/2 of the fleet's") {
		t.Fatalf("OnError told %v, want one DegradedError naming the share", errs)
	}
}
