package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
)

// stepPhase is where a step is, as the live view shows it.
type stepPhase int

const (
	phasePending stepPhase = iota
	phaseRunning
	phaseWaiting // a retry is scheduled
	phaseDone
	phaseSkipped
	phaseEscalated
	phaseFailed
	phaseStopped // the run was interrupted (canceled) during the step
)

// stepProgress is what the events of one step have said so far.
type stepProgress struct {
	name     string
	phase    stepPhase
	attempt  int
	attempts int // attempts made in this process (failed ones plus the successful one)
	retryAt  time.Time
	retryWhy rebound.Class
	model    string // the model of the last attempt or fallback
	failures map[rebound.Class]int
	hint     time.Duration // the largest retry delay
	fallback string        // from → to, when a fallback answered
	breakers []breakerChange
	reason   string // escalation reason
	escID    string
	started  time.Time
	finished time.Time
	// attemptStart is when the current attempt began (the step's start, or the end of a wait).
	attemptStart time.Time
	outOfHint    bool
	refused      int    // calls an open breaker refused
	refusedBy    string // whose breaker
	failedOn     string // the model of the last failed attempt
}

type breakerChange struct{ model, from, to string }

// progress folds run events into the state the live view, the plain log and the summary show.
// It is safe for concurrent use.
type progress struct {
	mu       sync.Mutex
	steps    []*stepProgress
	byName   map[string]*stepProgress
	breakers map[string]string // breaker key → state
}

func newProgress(steps []string) *progress {
	p := &progress{byName: map[string]*stepProgress{}, breakers: map[string]string{}}
	for _, s := range steps {
		p.step(s)
	}
	return p
}

func (p *progress) step(name string) *stepProgress {
	s := p.byName[name]
	if s == nil {
		s = &stepProgress{name: name, failures: map[rebound.Class]int{}}
		p.byName[name] = s
		p.steps = append(p.steps, s)
	}
	return s
}

// observe folds one event in.
func (p *progress) observe(e rebound.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Kind == rebound.BreakerChanged {
		p.breakers[e.Model] = e.To
	}
	if e.Step == "" {
		if e.Kind == rebound.RunFailed {
			to := phaseFailed
			if e.Status == "canceled" {
				to = phaseStopped
			}
			for _, st := range p.steps {
				if st.phase == phaseRunning || st.phase == phaseWaiting {
					st.phase = to
				}
			}
		}
		return
	}
	s := p.step(e.Step)
	switch e.Kind {
	case rebound.StepStarted:
		s.phase, s.started, s.attempt, s.attemptStart = phaseRunning, e.Time, 1, e.Time
	case rebound.StepSkipped:
		s.phase = phaseSkipped
	case rebound.AttemptFailed:
		switch {
		case e.Class == rebound.ClassCanceled:
			return // the run is being stopped, not a failure of the model
		case refusedByBreaker(e.Err):
			s.refused++ // refused by an open breaker: no call was made
			if e.Model != "" {
				s.refusedBy = e.Model
			}
			return
		}
		s.attempts++
		s.failures[e.Class]++
		if e.Model != "" {
			s.failedOn, s.model = e.Model, e.Model
		}
		if e.Attempt > 0 {
			s.attempt = e.Attempt
		}
	case rebound.RetryScheduled:
		s.phase, s.retryAt, s.retryWhy = phaseWaiting, e.Time.Add(e.Delay), e.Class
		s.attemptStart = s.retryAt
		s.hint = max(s.hint, e.Delay)
		if e.Attempt > 0 {
			s.attempt = e.Attempt + 1
		}
	case rebound.GaveUp:
		if e.Reason == string(rebound.HintTooLong) {
			s.outOfHint = true
		}
	case rebound.BreakerChanged:
		s.breakers = append(s.breakers, breakerChange{e.Model, e.From, e.To})
	case rebound.FallbackUsed:
		s.fallback, s.model = e.From+" → "+e.To, e.To
		s.phase, s.attemptStart = phaseRunning, e.Time
	case rebound.StepCompleted:
		s.phase, s.finished = phaseDone, e.Time
		s.attempts++
		if e.Model != "" && s.model == "" {
			s.model = e.Model
		}
	case rebound.Escalated:
		s.phase, s.reason, s.escID = phaseEscalated, e.Reason, e.EscalationID
	}
}

// breakerOf returns the breaker state of the model a step is using ("" when unknown).
func (p *progress) breakerOf(model string) string {
	if model == "" {
		return ""
	}
	if st, ok := p.breakers[model]; ok {
		return st
	}
	return "closed"
}

// recoveries says, per step, what went wrong and how it recovered, for the summary: the step's
// name and one line.
func (p *progress) recoveries() [][2]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][2]string
	for _, s := range p.steps {
		var parts []string
		for _, c := range sortedClasses(s.failures) {
			n := s.failures[c]
			parts = append(parts, recoveryOf(c, n, s))
		}
		for _, b := range s.breakers {
			parts = append(parts, "breaker "+b.model+": "+b.from+" → "+b.to)
		}
		if s.outOfHint {
			parts = append(parts, "the server asked to wait longer than the retry cap, so the step did not wait")
		}
		if s.refused > 0 && len(s.failures) == 0 {
			parts = append(parts, fmt.Sprintf("the breaker of %s was open, so it was not called", s.refusedBy))
		}
		if s.fallback != "" {
			parts = append(parts, s.model+" answered instead, marked degraded")
		}
		if s.phase == phaseEscalated {
			switch s.reason {
			case "irreversible_action":
				parts = append(parts, "irreversible: waits for a person's approval")
			default:
				parts = append(parts, "escalated to a person: "+s.reason)
			}
		}
		if len(parts) > 0 {
			out = append(out, [2]string{s.name, strings.Join(parts, "; ")})
		}
	}
	return out
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func recoveryOf(c rebound.Class, n int, s *stepProgress) string {
	on := ""
	if s.failedOn != "" {
		on = " on " + s.failedOn
	}
	switch c {
	case rebound.ClassRateLimited:
		if s.hint > 0 {
			return fmt.Sprintf("rate limited %s; waited as the server asked (%.1fs) and retried", times(n), s.hint.Seconds())
		}
		return fmt.Sprintf("rate limited %s; retried with backoff", times(n))
	case rebound.ClassMalformed:
		return fmt.Sprintf("a malformed answer %s; repaired by re-asking with the error", times(n))
	case rebound.ClassTimeout:
		return fmt.Sprintf("hung %s%s; cut by the attempt timeout and retried", times(n), on)
	case rebound.ClassOverloaded:
		return fmt.Sprintf("overloaded %s%s", times(n), on)
	case rebound.ClassTransient:
		return fmt.Sprintf("failed %s%s (transient); retried with backoff", times(n), on)
	}
	return fmt.Sprintf("%s %s%s", c, times(n), on)
}

// counts returns how many steps are done and skipped.
func (p *progress) counts() (done, skipped int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.steps {
		switch s.phase {
		case phaseDone:
			done++
		case phaseSkipped:
			skipped++
		}
	}
	return done, skipped
}

func sortedClasses(m map[rebound.Class]int) []rebound.Class {
	cs := make([]rebound.Class, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	return cs
}

// refusedByBreaker reports whether err is a breaker's refusal (no call was made), as opposed to a
// failure that opened the breaker, which also matches rebound.ErrCircuitOpen.
func refusedByBreaker(err error) bool {
	var open *breaker.OpenError
	return errors.As(err, &open)
}
