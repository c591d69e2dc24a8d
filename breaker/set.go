package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// SetConfig configures a Set.
type SetConfig struct {
	// Settings are those of every breaker in the set; each breaker's Name is its key.
	Settings Settings
	// MaxSize bounds the number of breakers. When a new key would pass it, an idle breaker
	// (closed, unforced), preferring one not used since the last sweep, is
	// forgotten; if none is idle, the set grows past MaxSize rather than forget an open breaker.
	// Default 1024.
	MaxSize int
	// IdleAfter is how long a closed breaker may go unused (neither looked up with Get nor
	// asked to admit a call) before it is forgotten. Sweeps run
	// when a breaker is created (lookups of existing keys read no clock), at most once per
	// IdleAfter; a sweep forgets the closed breakers unused since the sweep before. So, while the
	// set stays below MaxSize, a breaker is kept at least IdleAfter after its last use (making
	// room in a full set may forget an idle breaker sooner). Default 10 minutes.
	IdleAfter time.Duration
}

// Defaults of SetConfig.
const (
	DefaultMaxSize   = 1024
	DefaultIdleAfter = 10 * time.Minute
)

// Set holds one breaker per dependency key ("anthropic/claude-x", "tool/search"), created on
// demand from one Settings, bounded in size; idle breakers are forgotten. It is safe for
// concurrent use; looking up an existing key takes no lock.
type Set struct {
	s         Settings
	maxSize   int
	idleAfter time.Duration

	// m is read without a lock and replaced whole (copy on write) when a breaker is created or
	// forgotten: dependency keys are few and long-lived, lookups are many.
	m atomic.Pointer[map[string]*Breaker]

	mu        sync.Mutex // serialises creation and eviction
	lastSweep time.Time
}

// NewSet returns an empty set, or an error naming the setting that is out of range.
func NewSet(c SetConfig) (*Set, error) {
	s, err := c.Settings.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.MaxSize <= 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = DefaultIdleAfter
	}
	set := &Set{s: s, maxSize: c.MaxSize, idleAfter: c.IdleAfter}
	set.m.Store(&map[string]*Breaker{})
	return set, nil
}

// Get returns the breaker for key, creating it if needed.
func (s *Set) Get(key string) *Breaker {
	if b, ok := (*s.m.Load())[key]; ok {
		b.markUsed()
		return b
	}
	return s.create(key, time.Now())
}

// GetAt is Get at the given time, which only matters when a breaker is created (and idle ones
// may be swept).
func (s *Set) GetAt(now time.Time, key string) *Breaker {
	if b, ok := (*s.m.Load())[key]; ok {
		b.markUsed()
		return b
	}
	return s.create(key, now)
}

func (s *Set) create(key string, now time.Time) *Breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	if b, ok := old[key]; ok {
		b.markUsed()
		return b
	}
	m := make(map[string]*Breaker, len(old)+1)
	for k, b := range old {
		m[k] = b
	}
	if s.lastSweep.IsZero() {
		s.lastSweep = now
	}
	if now.Sub(s.lastSweep) >= s.idleAfter {
		s.sweep(m, false)
		s.lastSweep = now
	}
	if len(m) >= s.maxSize {
		s.sweep(m, true)
	}
	st := s.s
	st.Name = key
	b := newBreaker(st)
	b.used.Store(true)
	m[key] = b
	s.m.Store(&m)
	return b
}

// sweep forgets from m the idle breakers not used since the previous sweep and clears the use
// marks of the others. With room, it stops once there is room for one more, forgetting any idle
// breaker if none was unused. s.mu is held; m is not yet published.
func (s *Set) sweep(m map[string]*Breaker, room bool) {
	spare := ""
	for k, b := range m {
		if room && len(m) < s.maxSize {
			return
		}
		idle := b.idle()
		if !b.used.Load() && idle {
			delete(m, k)
			continue
		}
		b.used.Store(false)
		if idle && spare == "" {
			spare = k
		}
	}
	if room && len(m) >= s.maxSize && spare != "" {
		delete(m, spare)
	}
}

// Len returns the number of breakers in the set.
func (s *Set) Len() int { return len(*s.m.Load()) }

// Range calls f for each breaker in the set, in no particular order, until f returns false.
// It holds no lock while f runs.
func (s *Set) Range(f func(key string, b *Breaker) bool) {
	for k, b := range *s.m.Load() {
		if !f(k, b) {
			return
		}
	}
}
