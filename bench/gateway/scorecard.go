package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

// A Row is one scenario's line of the scorecard.
type Row struct {
	Scenario string
	// By driver name ("go", "node"); a driver not run has no entry.
	Verdicts map[string]verdict
}

// Pass: every driver that ran passed.
func (r Row) Pass() bool {
	for _, v := range r.Verdicts {
		if !v.pass {
			return false
		}
	}
	return len(r.Verdicts) > 0
}

// Scorecard is the outcome of a scorecard run.
type Scorecard struct {
	Rows      []Row
	Drivers   []string
	Truncated int // answers passed off as complete that were not, over every call
	Calls     int
	Took      time.Duration
	Load      string
}

// ScorecardOptions say what to run.
type ScorecardOptions struct {
	Start   starter  // starts a gateway
	Drivers []Driver // in column order
	Quick   bool     // the reduced variant of long scenarios
	Only    func(Scenario) bool
	Log     io.Writer
}

// RunScorecard runs every scenario through every driver, each on a fresh gateway process in
// front of three fresh-scripted fakes.
func RunScorecard(o ScorecardOptions) (*Scorecard, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	start := time.Now()
	a, err := startFake("A", fakellm.Options{})
	if err != nil {
		return nil, err
	}
	defer a.close()
	b, err := startFake("B", fakellm.Options{})
	if err != nil {
		return nil, err
	}
	defer b.close()
	c, err := startFake("C", fakellm.Options{Key: keyCRequired})
	if err != nil {
		return nil, err
	}
	defer c.close()
	sc := &Scorecard{Load: loadAvg()}
	for _, d := range o.Drivers {
		sc.Drivers = append(sc.Drivers, d.Name())
	}
	for _, s := range scenarios {
		if o.Only != nil && !o.Only(s) {
			continue
		}
		row := Row{Scenario: s.Name, Verdicts: map[string]verdict{}}
		for _, d := range o.Drivers {
			v, e, err := runOne(o, s, d, a, b, c)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): %w", s.Name, d.Name(), err)
			}
			sc.Truncated += e.truncated
			sc.Calls += e.calls
			row.Verdicts[d.Name()] = v
			mark := "pass"
			if !v.pass {
				mark = "FAIL"
			}
			fmt.Fprintf(o.Log, "%-36s %-5s %s  %s\n", s.Name, d.Name(), mark, v.detail)
		}
		sc.Rows = append(sc.Rows, row)
	}
	sc.Took = time.Since(start)
	return sc, nil
}

func runOne(o ScorecardOptions, s Scenario, d Driver, a, b, c *fake) (verdict, *env, error) {
	for _, f := range []struct {
		f      *fake
		script string
	}{{a, s.A}, {b, s.B}, {c, s.C}} {
		if err := f.f.h.SetScript(f.script); err != nil {
			return verdict{}, nil, fmt.Errorf("fake %s: %w", f.f.name, err)
		}
		f.f.h.Reset()
	}
	gw, err := o.Start(scorecardConfig(a, b, c))
	if err != nil {
		return verdict{}, nil, err
	}
	defer gw.stop()
	// The scripts start again now, so that time windows count from here.
	for _, f := range []*fake{a, b, c} {
		f.h.Reset()
	}
	e := &env{gw: gw, a: a, b: b, c: c, quick: o.Quick, start: time.Now()}
	v := s.run(e, d)
	if !gw.alive() {
		v = fail("the gateway process died: %s", tailOf(gw.logs.String()))
	}
	return v, e, nil
}

func tailOf(s string) string {
	if len(s) > 400 {
		s = s[len(s)-400:]
	}
	return s
}

// Print writes the scorecard as a Markdown table.
func (sc *Scorecard) Print(w io.Writer) {
	fmt.Fprintf(w, "| scenario |")
	for _, d := range sc.Drivers {
		fmt.Fprintf(w, " %s |", sdkName(d))
	}
	fmt.Fprintf(w, " result | detail |\n|---|")
	for range sc.Drivers {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintf(w, "---|---|\n")
	passed := 0
	for _, r := range sc.Rows {
		fmt.Fprintf(w, "| %s |", r.Scenario)
		var details []string
		for _, d := range sc.Drivers {
			v, ok := r.Verdicts[d]
			switch {
			case !ok:
				fmt.Fprintf(w, " — |")
			case v.pass:
				fmt.Fprintf(w, " pass |")
			default:
				fmt.Fprintf(w, " **FAIL** |")
			}
			if ok {
				if !v.pass || len(details) == 0 {
					details = append(details, prefixIf(len(sc.Drivers) > 1 && !v.pass, d, v.detail))
				}
			}
		}
		res := "**FAIL**"
		if r.Pass() {
			res = "pass"
			passed++
		}
		fmt.Fprintf(w, " %s | %s |\n", res, strings.ReplaceAll(strings.Join(details, "; "), "|", "/"))
	}
	fmt.Fprintf(w, "\n%d of %d scenarios pass; truncated answers passed off as complete: %d (of %d calls); %v, load average %s\n",
		passed, len(sc.Rows), sc.Truncated, sc.Calls, sc.Took.Round(time.Second), sc.Load)
}

func prefixIf(b bool, p, s string) string {
	if b {
		return p + ": " + s
	}
	return s
}

func sdkName(d string) string {
	switch d {
	case "go":
		return "Go SDKs"
	case "node":
		return "Node SDKs"
	}
	return d
}
