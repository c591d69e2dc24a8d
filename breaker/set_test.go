package breaker_test

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound/breaker"
)

func mustSet(t *testing.T, c breaker.SetConfig) *breaker.Set {
	t.Helper()
	s, err := breaker.NewSet(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSetCreatesOnDemand(t *testing.T) {
	s := mustSet(t, breaker.SetConfig{Settings: breaker.Settings{ConsecutiveFailures: 1}})
	a := s.Get("anthropic/claude-x")
	if a != s.Get("anthropic/claude-x") {
		t.Fatal("two breakers for one key")
	}
	o := s.Get("tool/search")
	if a == o {
		t.Fatal("one breaker for two keys")
	}
	if a.Name() != "anthropic/claude-x" || o.Name() != "tool/search" {
		t.Fatalf("names %q, %q", a.Name(), o.Name())
	}
	call(t, a, errTransient)
	wantState(t, a, breaker.Open)
	wantState(t, o, breaker.Closed) // breakers are independent
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	n := 0
	s.Range(func(string, *breaker.Breaker) bool { n++; return true })
	if n != 2 {
		t.Fatalf("Range saw %d", n)
	}
}

func TestSetIsBounded(t *testing.T) {
	s := mustSet(t, breaker.SetConfig{MaxSize: 10, Settings: breaker.Settings{ConsecutiveFailures: 1}})
	// Three open breakers are never forgotten to make room.
	for i := range 3 {
		call(t, s.Get(fmt.Sprint("down", i)), errTransient)
	}
	for i := range 100 {
		s.Get(fmt.Sprint("k", i))
		if s.Len() > 10 {
			t.Fatalf("Len = %d after %d keys, want at most 10", s.Len(), i+1)
		}
	}
	for i := range 3 {
		var found *breaker.Breaker
		s.Range(func(k string, b *breaker.Breaker) bool {
			if k == fmt.Sprint("down", i) {
				found = b
			}
			return true
		})
		if found == nil || found.State() != breaker.Open {
			t.Fatalf("open breaker down%d was forgotten", i)
		}
	}
	// With every breaker busy (open), the set grows rather than forget one.
	s = mustSet(t, breaker.SetConfig{MaxSize: 2, Settings: breaker.Settings{ConsecutiveFailures: 1}})
	for i := range 4 {
		call(t, s.Get(fmt.Sprint("down", i)), errTransient)
	}
	if s.Len() != 4 {
		t.Fatalf("Len = %d, want 4: open breakers must not be evicted", s.Len())
	}
}

func TestSetEvictsIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustSet(t, breaker.SetConfig{IdleAfter: time.Minute})
		old := s.Get("old")
		s.Get("busy")
		time.Sleep(61 * time.Second)
		s.Get("a") // first sweep: marks cleared, nothing unused for a whole period yet
		if s.Len() != 3 {
			t.Fatalf("Len = %d after the first sweep, want 3", s.Len())
		}
		time.Sleep(30 * time.Second)
		s.Get("busy") // used since the first sweep: survives the next one
		time.Sleep(31 * time.Second)
		s.Get("b") // second sweep: "old" unused since the first one goes
		if s.Len() != 3 {
			t.Fatalf("Len = %d after the second sweep, want 3 (old evicted)", s.Len())
		}
		found := false
		s.Range(func(k string, b *breaker.Breaker) bool {
			found = found || k == "old"
			return true
		})
		if found {
			t.Fatal("idle breaker was not evicted")
		}
		if s.Get("old") == old {
			t.Fatal("evicted breaker came back")
		}
	})
}

func TestSetConcurrent(t *testing.T) {
	s := mustSet(t, breaker.SetConfig{MaxSize: 16})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				b := s.Get(fmt.Sprint("k", (i*7+g)%24))
				p, err := b.Allow()
				if err == nil {
					p.Done(nil)
				}
			}
		})
	}
	wg.Wait()
	if s.Len() > 24 {
		t.Fatalf("Len = %d", s.Len())
	}
}

// TestSetKeepsBreakersUsedThroughAPointer checks that a breaker in use is not forgotten because
// its users hold it rather than look it up each time (llm.Resilient gets its breaker once): a
// Set that forgot it would hand the next Get a second breaker for the same dependency.
func TestSetKeepsBreakersUsedThroughAPointer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustSet(t, breaker.SetConfig{IdleAfter: time.Minute})
		held := s.Get("anthropic/claude-x")
		for i := range 5 {
			time.Sleep(61 * time.Second)
			call(t, held, nil)            // used, but never looked up again
			s.Get(fmt.Sprint("tool/", i)) // a new key: a sweep
		}
		if got := s.Get("anthropic/claude-x"); got != held {
			t.Fatal("a breaker in use was forgotten: Get returned a second breaker for its key")
		}
		// One unused for two sweeps is forgotten, as before.
		found := false
		s.Range(func(k string, _ *breaker.Breaker) bool {
			found = found || k == "tool/0"
			return true
		})
		if found {
			t.Fatal("tool/0, unused since its creation, was not forgotten")
		}
	})
}
