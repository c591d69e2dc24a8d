package ratelimit

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestSendsStayBounded: the record of admissions stays small when responses stop carrying
// rate-limit headers after a first report, and when they never carry any: every Wait scans it.
func TestSendsStayBounded(t *testing.T) {
	for _, first := range []bool{true, false} {
		l := New(Config{Reserve: -1})
		now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
		p, _ := l.AllowAt(now, 0)
		h := http.Header{}
		if first {
			h.Set("anthropic-ratelimit-requests-limit", "1000")
			h.Set("anthropic-ratelimit-requests-remaining", "999")
			h.Set("anthropic-ratelimit-requests-reset", now.Add(time.Second).Format(time.RFC3339))
		}
		p.ObserveAt(now, h, 200)
		admitted := 0
		for i := range 20000 {
			at := now.Add(time.Duration(i) * time.Millisecond)
			p, d := l.AllowAt(at, 10)
			if d != 0 {
				continue
			}
			admitted++
			p.ObserveAt(at, nil, 200)
		}
		l.mu.Lock()
		n := len(l.sends)
		l.mu.Unlock()
		if n > 16 {
			t.Errorf("first report %v: %d admissions kept after %d calls", first, n, admitted)
		}
		if admitted < 19000 {
			t.Errorf("first report %v: admitted %d of 20000", first, admitted)
		}
	}
}

// TestPacingResumes: after a stale report was forgotten, a response with headers paces again.
func TestPacingResumes(t *testing.T) {
	l := New(Config{Reserve: -1})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	hdr := func(remaining int, reset time.Time) http.Header {
		h := http.Header{}
		h.Set("anthropic-ratelimit-requests-limit", "20")
		h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(remaining))
		h.Set("anthropic-ratelimit-requests-reset", reset.Format(time.RFC3339))
		return h
	}
	p, _ := l.AllowAt(now, 0)
	p.ObserveAt(now, hdr(19, now.Add(time.Second)), 200)
	p, _ = l.AllowAt(now, 0)
	p.ObserveAt(now, nil, 200) // headers stop
	now = now.Add(2 * time.Second)
	p, d := l.AllowAt(now, 0)
	if d != 0 {
		t.Fatalf("stale report still paces: wait %v", d)
	}
	p.ObserveAt(now, hdr(0, now.Add(10*time.Second)), 200) // headers back: bucket empty
	if _, d := l.AllowAt(now, 0); d == 0 {
		t.Fatal("an empty bucket reported after the headers came back does not pace")
	}
}

// A limit reported once and then no more (later answers report only the requests limit) stops
// pacing once its reset has passed, and does not keep the record of admissions growing.
func TestOneLimitStopsReporting(t *testing.T) {
	l := New(Config{Reserve: -1})
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	reqs := func(h http.Header, at time.Time) http.Header {
		h.Set("x-ratelimit-limit-requests", "100000")
		h.Set("x-ratelimit-remaining-requests", "99999")
		h.Set("x-ratelimit-reset-requests", "1ms")
		return h
	}
	first := reqs(http.Header{}, now)
	first.Set("x-ratelimit-limit-tokens", "1000")
	first.Set("x-ratelimit-remaining-tokens", "900")
	first.Set("x-ratelimit-reset-tokens", "1s")
	p, _ := l.AllowAt(now, 100)
	p.ObserveAt(now, first, 200)
	admitted := 0
	for i := range 20000 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		p, d := l.AllowAt(at, 100)
		if d != 0 {
			continue
		}
		admitted++
		p.ObserveAt(at, reqs(http.Header{}, at), 200)
	}
	l.mu.Lock()
	n := len(l.sends)
	l.mu.Unlock()
	if n > 128 || admitted < 19000 { // kept: those within the reorder window of the latest report
		t.Errorf("admitted %d of 20000; %d admissions kept", admitted, n)
	}
}
