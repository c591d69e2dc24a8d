package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
)

// summaryOf is what the end-of-run summary is made from.
type summaryOf struct {
	p         *progress
	runID     string
	in        demoInput
	store     dsn
	storeFlag string // " --store X" to repeat in commands, or ""
	err       error
	// interrupted is true when the command was stopped (Ctrl-C, SIGTERM) during the run.
	interrupted bool
	elapsed     time.Duration
	report      string
	// attempts is the run's RunInfo.AttemptCount, -1 when the store could not be read.
	attempts int
}

// printSummary writes what happened: steps, attempts, what recovered how, where the report is,
// and for an escalation the exact commands to resolve it and resume.
func (g *globals) printSummary(w io.Writer, s summaryOf) {
	pal := plainPalette()
	if g.terminal && !g.json && g.getenv("NO_COLOR") == "" {
		pal = colorPalette()
	}
	done, skipped := s.p.counts()
	total := len(demoSteps)
	var esc *checkpoint.EscalatedError
	fmt.Fprintln(w)
	switch {
	case s.err == nil:
		fmt.Fprintf(w, "%s run %s completed: %d of %d steps", pal.ok.Render("✓"), pal.bold.Render(s.runID), done+skipped, total)
	case errors.As(s.err, &esc):
		fmt.Fprintf(w, "%s run %s is waiting for a person: %d of %d steps done", pal.warn.Render("⚑"), pal.bold.Render(s.runID), done+skipped, total)
	case s.interrupted:
		fmt.Fprintf(w, "%s run %s stopped (interrupted) after %d of %d steps", pal.warn.Render("■"), pal.bold.Render(s.runID), done+skipped, total)
	default:
		fmt.Fprintf(w, "%s run %s failed after %d of %d steps", pal.bad.Render("✗"), pal.bold.Render(s.runID), done+skipped, total)
	}
	if skipped > 0 {
		fmt.Fprintf(w, " (%d done earlier, skipped)", skipped)
	}
	if s.attempts >= 0 {
		fmt.Fprintf(w, ", %s", plural(s.attempts, "attempt"))
	}
	fmt.Fprintf(w, ", %.1fs.\n", s.elapsed.Seconds())
	if s.store.kind == "memory" && s.err != nil {
		fmt.Fprintln(w, "(The memory: store ended with this command: run with the default store to resolve and resume.)")
	}

	if rec := s.p.recoveries(); len(rec) > 0 {
		fmt.Fprintln(w, "\nWhat went wrong, and how it recovered:")
		width := 0
		for _, r := range rec {
			width = max(width, len(r[0]))
		}
		for _, r := range rec {
			fmt.Fprintf(w, "  %-*s  %s\n", width, r[0], wrap(r[1], summaryWidth-width-4, strings.Repeat(" ", width+4)))
		}
	}
	memory := s.store.kind == "memory"
	switch {
	case s.err == nil:
		if s.report != "" {
			fmt.Fprintf(w, "\nReport: %s\n", relPath(s.report))
		}
	case esc != nil && memory:
		fmt.Fprintf(w, "\nStep %s needs a person (%s); the escalation ended with the memory: store.\n", esc.Step, esc.Reason)
	case memory:
		// Nothing of the run outlives this command: no command to print would work.
		if !s.interrupted {
			fmt.Fprintf(w, "\nError: %v\n", s.err)
		}
	case errors.Is(s.err, checkpoint.ErrRejected):
		fmt.Fprintf(w, "\nError: %v\n", s.err)
		fmt.Fprintf(w, "A reviewer rejected it: the run is failed for good, and rerunning it fails the same way. Start a new run with another --run-id; see why with '%s runs show %s%s'.\n",
			g.self(), s.runID, s.storeFlag)
	case esc != nil:
		fmt.Fprintf(w, "\nStep %s needs a person (%s), escalation %s.\n", esc.Step, esc.Reason, esc.EscalationID)
		if esc.Reason == rebound.ReasonIrreversibleAction {
			fmt.Fprintf(w, "Publishing writes the report to %s; approve it, then resume:\n", relPath(filepath.Join(s.in.ReportDir, s.runID+".md")))
		} else {
			fmt.Fprintln(w, "Decide, then resume:")
		}
		fmt.Fprintf(w, "  %s escalations show %s%s\n", g.self(), esc.EscalationID, s.storeFlag)
		fmt.Fprintf(w, "  %s escalations resolve %s --action approve --by %s%s\n", g.self(), esc.EscalationID, shellQuote(g.reviewer()), s.storeFlag)
		fmt.Fprintf(w, "  %s runs resume %s%s\n", g.self(), s.runID, s.storeFlag)
	case s.interrupted:
		fmt.Fprintf(w, "\nNothing finished is lost. Resume it:\n  %s runs resume %s%s\n", g.self(), s.runID, s.storeFlag)
	default:
		fmt.Fprintf(w, "\nError: %v\n", s.err)
		fmt.Fprintf(w, "Look at it with '%s runs show %s%s'; rerun with '%s demo --run-id %s%s' to resume.\n",
			g.self(), s.runID, s.storeFlag, g.self(), s.runID, s.storeFlag)
	}
}

// reviewer is a plausible --by for the printed commands: the user's login name.
func (g *globals) reviewer() string {
	for _, k := range []string{"USER", "LOGNAME", "USERNAME"} {
		if v := strings.TrimSpace(g.getenv(k)); v != "" {
			return v
		}
	}
	return "your-name"
}

// relPath shows p relative to the working directory when it is below it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	r, err := filepath.Rel(wd, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return r
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// summaryWidth is the width the summary's explanations are wrapped to.
const summaryWidth = 100

// wrap breaks text into lines of at most width columns (words are not split), indenting every
// line after the first with indent.
func wrap(text string, width int, indent string) string {
	width = max(width, 30)
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(text) {
		n := len([]rune(word))
		if i > 0 && col+1+n > width {
			b.WriteString("\n" + indent)
			col = 0
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}
