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
	// IdleAfter is how long a closed breaker may go unused before it is forgotten. Sweeps run
	// when a breaker is created (lookups of existing keys read no clock), at most once per
	// IdleAfter; a sweep forgets the closed breakers unused since the sweep before. So a breaker
	// is kept at least IdleAfter after its last use. Default 10 minutes.
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

	m sync.Map // string -> *entry

	mu        sync.Mutex // serialises creation and eviction
	size      int
	lastSweep time.Time
}

type entry struct {
	b    *Breaker
	used atomic.Bool
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
	return &Set{s: s, maxSize: c.MaxSize, idleAfter: c.IdleAfter}, nil
}

// Get returns the breaker for key, creating it if needed.
func (s *Set) Get(key string) *Breaker {
	if v, ok := s.m.Load(key); ok {
		e := v.(*entry)
		if !e.used.Load() {
			e.used.Store(true)
		}
		return e.b
	}
	return s.create(key, time.Now())
}

// GetAt is Get at the given time, which only matters when a breaker is created (and idle ones
// may be swept).
func (s *Set) GetAt(now time.Time, key string) *Breaker {
	if v, ok := s.m.Load(key); ok {
		e := v.(*entry)
		if !e.used.Load() {
			e.used.Store(true)
		}
		return e.b
	}
	return s.create(key, now)
}

func (s *Set) create(key string, now time.Time) *Breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m.Load(key); ok {
		e := v.(*entry)
		e.used.Store(true)
		return e.b
	}
	if s.lastSweep.IsZero() {
		s.lastSweep = now
	}
	if now.Sub(s.lastSweep) >= s.idleAfter {
		s.sweep(false)
		s.lastSweep = now
	}
	if s.size >= s.maxSize {
		s.sweep(true)
	}
	st := s.s
	st.Name = key
	e := &entry{b: newBreaker(st)}
	e.used.Store(true)
	s.m.Store(key, e)
	s.size++
	return e.b
}

// sweep forgets idle breakers not used since the previous sweep and clears the use marks of the
// others. With room, it stops after making room for one: the least recently marked idle breaker
// first, else any idle one. s.mu is held.
func (s *Set) sweep(room bool) {
	var spare []any
	s.m.Range(func(k, v any) bool {
		e := v.(*entry)
		if !e.used.Load() && e.b.idle() {
			s.m.Delete(k)
			s.size--
			return !room || s.size >= s.maxSize
		}
		if e.used.Load() {
			e.used.Store(false)
		}
		if room && len(spare) < 1 && e.b.idle() {
			spare = append(spare, k)
		}
		return true
	})
	if room && s.size >= s.maxSize && len(spare) > 0 {
		s.m.Delete(spare[0])
		s.size--
	}
}

// Len returns the number of breakers in the set.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Range calls f for each breaker in the set, in no particular order, until f returns false.
// It holds no lock while f runs.
func (s *Set) Range(f func(key string, b *Breaker) bool) {
	s.m.Range(func(k, v any) bool { return f(k.(string), v.(*entry).b) })
}
