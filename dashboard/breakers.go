package dashboard

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
)

// BreakerLog is a BreakerSource over the breakers of a process: a watched breaker.Set gives
// each breaker's current state, and the log remembers the recent transitions it was told of,
// through Hook (a rebound.Hook fed BreakerChanged events: put it in the hook of the runner whose
// steps use the breakers) or OnStateChange (for breaker.Settings.OnStateChange):
//
//	log := dashboard.NewBreakerLog(0)
//	set, err := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{OnStateChange: log.OnStateChange}})
//	...
//	log.Watch(set)
//
// Safe for concurrent use.
type BreakerLog struct {
	keep int
	now  func() time.Time

	mu   sync.Mutex
	sets []*breaker.Set
	m    map[string][]Transition // newest last, at most keep
}

var _ BreakerSource = (*BreakerLog)(nil)

// NewBreakerLog returns an empty log keeping keep transitions per breaker (default 20 when
// keep <= 0). Until it watches a set, it lists only the breakers it has seen change, each in
// the state of its last transition.
func NewBreakerLog(keep int) *BreakerLog {
	if keep <= 0 {
		keep = 20
	}
	return &BreakerLog{keep: keep, now: time.Now, m: make(map[string][]Transition)}
}

// Watch adds set's breakers to the list, with their current states.
func (l *BreakerLog) Watch(set *breaker.Set) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sets = append(l.sets, set)
}

// Hook records the BreakerChanged events it receives and ignores the others. Its signature is
// rebound.Hook's.
func (l *BreakerLog) Hook(_ context.Context, e rebound.Event) {
	if e.Kind != rebound.BreakerChanged || e.Model == "" {
		return
	}
	at := e.Time
	if at.IsZero() {
		at = l.now()
	}
	l.record(e.Model, Transition{At: at, From: e.From, To: e.To})
}

// OnStateChange records a transition; its signature is breaker.Settings.OnStateChange's.
func (l *BreakerLog) OnStateChange(name string, from, to breaker.State) {
	l.record(name, Transition{At: l.now(), From: from.String(), To: to.String()})
}

func (l *BreakerLog) record(name string, t Transition) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := append(l.m[name], t)
	if len(ts) > l.keep {
		ts = append(ts[:0:0], ts[len(ts)-l.keep:]...)
	}
	l.m[name] = ts
}

// Breakers lists every breaker of the set and every one the log has seen change, by name, with
// transitions newest first.
func (l *BreakerLog) Breakers(_ context.Context) ([]BreakerStatus, error) {
	byName := make(map[string]*BreakerStatus)
	inSet := make(map[string]bool)
	l.mu.Lock()
	sets := append([]*breaker.Set(nil), l.sets...)
	l.mu.Unlock()
	for _, set := range sets {
		set.Range(func(key string, b *breaker.Breaker) bool {
			byName[key] = &BreakerStatus{Name: key, State: b.State(), Current: true}
			inSet[key] = true
			return true
		})
	}
	l.mu.Lock()
	for name, ts := range l.m {
		st, ok := byName[name]
		if !ok {
			st = &BreakerStatus{Name: name}
			byName[name] = st
		}
		st.Transitions = make([]Transition, len(ts))
		for i, t := range ts {
			st.Transitions[len(ts)-1-i] = t
		}
		if !inSet[name] && len(ts) > 0 {
			// Forgotten by the set (idle) or never in it: the last transition says where it was.
			st.State = parseState(ts[len(ts)-1].To)
		}
	}
	l.mu.Unlock()
	out := make([]BreakerStatus, 0, len(byName))
	for _, st := range byName {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func parseState(s string) breaker.State {
	switch s {
	case breaker.Open.String():
		return breaker.Open
	case breaker.HalfOpen.String():
		return breaker.HalfOpen
	}
	return breaker.Closed
}
