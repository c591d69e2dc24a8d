package main

import (
	"fmt"
	"strings"
	"time"
)

// style is an SGR attribute list ("1" bold, "2" faint, "32" green, ...). The zero style prints
// plain text.
type style string

// Render returns s in the style, the style reset after it.
func (st style) Render(s string) string {
	if st == "" {
		return s
	}
	return "\x1b[" + string(st) + "m" + s + sgrReset
}

// palette styles the live view and the summary. The zero palette prints plain text.
type palette struct {
	ok, warn, bad, dim, bold, accent style
}

// colorPalette uses the eight basic colours, which every colour terminal shows.
func colorPalette() palette {
	return palette{ok: "32", warn: "33", bad: "31", dim: "2", bold: "1", accent: "36"}
}

func plainPalette() palette { return palette{} }

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// lines renders one line per step, as of now.
func (p *progress) lines(now time.Time, pal palette, frame int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	width := 0
	for _, s := range p.steps {
		width = max(width, len(s.name))
	}
	out := make([]string, 0, len(p.steps))
	for _, s := range p.steps {
		name := fmt.Sprintf("%-*s", width, s.name)
		var icon, state string
		var extra []string
		switch s.phase {
		case phasePending:
			icon, state = pal.dim.Render("○"), pal.dim.Render("pending")
		case phaseRunning, phaseWaiting:
			icon = pal.accent.Render(spinner[frame%len(spinner)])
			if s.phase == phaseWaiting && now.Before(s.retryAt) {
				left := s.retryAt.Sub(now)
				state = pal.warn.Render(fmt.Sprintf("retry in %.1fs (%s)", left.Seconds(), s.retryWhy))
			} else {
				state = fmt.Sprintf("attempt %d", max(s.attempt, 1))
				if !s.attemptStart.IsZero() && now.After(s.attemptStart) {
					state += pal.dim.Render(fmt.Sprintf(" · %.1fs", now.Sub(s.attemptStart).Seconds()))
				}
			}
			if s.model != "" {
				b := p.breakerOf(s.model)
				bs := pal.ok
				switch b {
				case "open":
					bs = pal.bad
				case "half_open":
					bs = pal.warn
				}
				extra = append(extra, pal.dim.Render(shortModel(s.model))+" "+bs.Render("["+strings.ReplaceAll(b, "_", "-")+"]"))
			}
		case phaseDone:
			icon = pal.ok.Render("✓")
			state = pal.ok.Render("done")
			if d := s.finished.Sub(s.started); !s.started.IsZero() && d > 0 {
				state += pal.dim.Render(fmt.Sprintf(" in %.1fs", d.Seconds()))
			}
			if s.attempts > 1 {
				state += pal.dim.Render(fmt.Sprintf(" · %d attempts", s.attempts))
			}
			if s.fallback == "" && s.model != "" {
				extra = append(extra, pal.dim.Render(shortModel(s.model)))
			}
		case phaseSkipped:
			icon, state = pal.dim.Render("↷"), pal.dim.Render("done earlier (skipped)")
		case phaseEscalated:
			icon = pal.warn.Render("⚑")
			state = pal.warn.Render("escalated: " + s.reason)
			if s.escID != "" {
				state += pal.dim.Render(" · " + s.escID)
			}
		case phaseFailed:
			icon, state = pal.bad.Render("✗"), pal.bad.Render("failed")
		case phaseStopped:
			icon, state = pal.warn.Render("■"), pal.warn.Render("stopped (interrupted)")
		}
		if s.phase != phaseSkipped {
			if len(s.failures) > 0 {
				var fs []string
				for _, c := range sortedClasses(s.failures) {
					fs = append(fs, fmt.Sprintf("%d× %s", s.failures[c], c))
				}
				extra = append(extra, pal.dim.Render(strings.Join(fs, ", ")))
			}
			for _, b := range s.breakers {
				if b.to == "open" {
					extra = append(extra, pal.bad.Render("breaker opened"))
				}
			}
			if s.refused > 0 && len(s.breakers) == 0 {
				extra = append(extra, pal.dim.Render("breaker open"))
			}
			if s.fallback != "" {
				extra = append(extra, pal.warn.Render("↪ "+shortModel(s.model)+" (degraded)"))
			}
		}
		line := fmt.Sprintf("  %s %s  %s", icon, pal.bold.Render(name), state)
		if len(extra) > 0 {
			line += "  " + strings.Join(extra, pal.dim.Render(" · "))
		}
		out = append(out, line)
	}
	return out
}

// shortModel drops the provider from a model's name: the title line names the provider.
func shortModel(m string) string {
	if i := strings.LastIndex(m, "/"); i >= 0 {
		return m[i+1:]
	}
	return m
}
