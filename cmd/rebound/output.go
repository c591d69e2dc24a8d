package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
)

// designEvents are the run events of the --json contract (docs/cli.md, "JSON events"); others are not printed.
var designEvents = map[rebound.EventKind]bool{
	rebound.RunStarted: true, rebound.RunResumed: true, rebound.StepStarted: true, rebound.StepSkipped: true,
	rebound.AttemptFailed: true, rebound.RetryScheduled: true, rebound.BreakerChanged: true,
	rebound.FallbackUsed: true, rebound.StepCompleted: true, rebound.Escalated: true,
	rebound.RunCompleted: true, rebound.RunFailed: true,
	rebound.ToolStarted: true, rebound.ToolCompleted: true, rebound.ToolFailed: true,
}

// jsonEvents writes each event of the --json contract as one JSON object per line.
func jsonEvents(w io.Writer) rebound.Hook {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(_ context.Context, e rebound.Event) {
		if !designEvents[e.Kind] {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e) // a closed stdout must not stop the run
	}
}

// plainEvents writes one readable line per event, for output that is not a terminal.
func plainEvents(w io.Writer) rebound.Hook {
	var mu sync.Mutex
	return func(_ context.Context, e rebound.Event) {
		line := plainLine(e)
		if line == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s %s\n", e.Time.Format("15:04:05.000"), line)
	}
}

func plainLine(e rebound.Event) string {
	step := e.Step
	errText := ""
	if e.Err != nil {
		errText = ": " + e.Err.Error()
	}
	switch e.Kind {
	case rebound.RunStarted:
		return fmt.Sprintf("run %s started", e.RunID)
	case rebound.RunResumed:
		return fmt.Sprintf("run %s resumed (was %s)", e.RunID, e.Status)
	case rebound.StepStarted:
		return step + ": started"
	case rebound.StepSkipped:
		return step + ": done earlier, skipped"
	case rebound.AttemptFailed:
		if refusedByBreaker(e.Err) {
			// Nothing was sent: not a failed attempt, and its class (transient) says nothing.
			return fmt.Sprintf("%s: %s not called: its breaker is open%s", step, orUnknown(e.Model), errText)
		}
		return fmt.Sprintf("%s: attempt %d on %s failed (%s)%s", step, e.Attempt, orUnknown(e.Model), e.Class, errText)
	case rebound.RetryScheduled:
		return fmt.Sprintf("%s: retry in %s (%s)", step, e.Delay.Round(time.Millisecond), e.Class)
	case rebound.GaveUp:
		return fmt.Sprintf("%s: gave up on %s (%s)%s", step, orUnknown(e.Model), e.Reason, errText)
	case rebound.BreakerChanged:
		return fmt.Sprintf("breaker %s: %s → %s", e.Model, e.From, e.To)
	case rebound.FallbackUsed:
		return fmt.Sprintf("%s: fallback %s → %s (degraded)", step, e.From, e.To)
	case rebound.StepCompleted:
		return step + ": done"
	case rebound.Escalated:
		return fmt.Sprintf("%s: escalated (%s), escalation %s%s", step, e.Reason, e.EscalationID, errText)
	case rebound.ToolStarted:
		return fmt.Sprintf("%s: %s (%s) started", step, e.Tool, e.Effect)
	case rebound.ToolCompleted:
		return fmt.Sprintf("%s: %s done", step, e.Tool)
	case rebound.ToolFailed:
		return fmt.Sprintf("%s: %s failed (%s)%s", step, e.Tool, e.FailureClass, errText)
	case rebound.RunCompleted:
		return fmt.Sprintf("run %s completed", e.RunID)
	case rebound.RunFailed:
		return fmt.Sprintf("run %s failed%s", e.RunID, errText)
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "the model"
	}
	return s
}

// runDisplay shows a run while it executes: JSON events (--json), the live view (a terminal),
// or plain lines. Its hook also feeds the progress the summary is made from.
type runDisplay struct {
	progress *progress
	hook     rebound.Hook
	live     *liveView
}

// newRunDisplay chooses the display, on w, for a run with the given steps.
func (g *globals) newRunDisplay(w io.Writer, title string, steps []string) *runDisplay {
	d := &runDisplay{progress: newProgress(steps)}
	track := func(_ context.Context, e rebound.Event) { d.progress.observe(e) }
	switch {
	case g.json:
		d.hook = rebound.Hooks(track, jsonEvents(w))
	case g.terminal:
		d.hook = track
		pal := colorPalette()
		if g.getenv("NO_COLOR") != "" {
			pal = plainPalette()
		}
		// The live view moves the cursor: it writes to the terminal itself, escaping its text.
		d.live = newLiveView(rawWriter(w), d.progress, title, pal)
	default:
		d.hook = rebound.Hooks(track, plainEvents(w))
	}
	return d
}

// start starts the live view, if any.
func (d *runDisplay) start() {
	if d.live != nil {
		d.live.start()
	}
}

// stop draws the live view's last frame and stops it.
func (d *runDisplay) stop() {
	if d.live != nil {
		d.live.stop()
	}
}
