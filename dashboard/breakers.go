package dashboard

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
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

// The breakers page and its API.

type breakersPage struct {
	Now        time.Time
	Configured bool
	Breakers   []BreakerStatus
	// RunEvents are the breaker changes journaled by the most recent runs, whichever process
	// ran them, newest first.
	RunEvents []runBreakerEvent
	// RecentRuns is how many runs were read for RunEvents (at most recentRuns).
	RecentRuns int
}

type runBreakerEvent struct {
	RunID string
	Step  string
	checkpoint.AttemptRecord
}

// recentRuns bounds how many runs the breakers page reads for their breaker events.
const recentRuns = 25

func (s *Server) loadBreakers(r *http.Request) (breakersPage, error) {
	p := breakersPage{Now: s.now(), Configured: s.cfg.Breakers != nil}
	if s.cfg.Breakers != nil {
		bs, err := s.cfg.Breakers.Breakers(r.Context())
		if err != nil {
			return p, err
		}
		p.Breakers = bs
	}
	if s.cfg.Runs == nil {
		return p, nil
	}
	runs, err := s.cfg.Runs.ListRuns(r.Context(), checkpoint.RunFilter{Limit: recentRuns})
	if err != nil {
		return p, err
	}
	p.RecentRuns = len(runs)
	for _, ri := range runs {
		if ri.AttemptCount == 0 {
			continue
		}
		v, err := s.getRun(r.Context(), ri.ID)
		if v == nil {
			if errors.Is(err, checkpoint.ErrRunNotFound) {
				continue // pruned meanwhile
			}
			return p, err
		}
		for _, st := range v.Steps {
			for _, a := range st.Attempts {
				if a.Kind == string(rebound.BreakerChanged) {
					p.RunEvents = append(p.RunEvents, runBreakerEvent{RunID: ri.ID, Step: st.Name, AttemptRecord: a})
				}
			}
		}
	}
	sort.SliceStable(p.RunEvents, func(i, j int) bool { return p.RunEvents[i].Time.After(p.RunEvents[j].Time) })
	if len(p.RunEvents) > 50 {
		p.RunEvents = p.RunEvents[:50]
	}
	return p, nil
}

func (s *Server) pageBreakers(w http.ResponseWriter, r *http.Request) {
	p, err := s.loadBreakers(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "breakers", p)
}

type breakerJSON struct {
	Name        string       `json:"name"`
	State       string       `json:"state"`
	Current     bool         `json:"current"`
	Transitions []Transition `json:"transitions"`
}

type runBreakerEventJSON struct {
	Time  time.Time `json:"time"`
	RunID string    `json:"run_id"`
	Step  string    `json:"step,omitempty"`
	Model string    `json:"model"`
	From  string    `json:"from"`
	To    string    `json:"to"`
}

type breakersJSON struct {
	Breakers  []breakerJSON         `json:"breakers"`
	RunEvents []runBreakerEventJSON `json:"run_events"`
}

func (s *Server) apiBreakers(w http.ResponseWriter, r *http.Request) {
	p, err := s.loadBreakers(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := breakersJSON{Breakers: []breakerJSON{}, RunEvents: []runBreakerEventJSON{}}
	for _, b := range p.Breakers {
		ts := b.Transitions
		if ts == nil {
			ts = []Transition{}
		}
		out.Breakers = append(out.Breakers, breakerJSON{Name: b.Name, State: b.State.String(), Current: b.Current, Transitions: ts})
	}
	for _, e := range p.RunEvents {
		out.RunEvents = append(out.RunEvents, runBreakerEventJSON{Time: e.Time, RunID: e.RunID, Step: e.Step,
			Model: e.Model, From: e.From, To: e.To})
	}
	writeJSON(w, http.StatusOK, out)
}
