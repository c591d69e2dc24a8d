package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rebound-go/rebound"
)

var csi = regexp.MustCompile("\x1b\\[[0-9;?]*[@-~]")

// stripANSI drops the escape sequences, leaving what a person reads.
func stripANSI(s string) string { return csi.ReplaceAllString(s, "") }

// lockedBuffer is a terminal the test reads while the view writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLiveViewRedrawsInPlace checks what the terminal receives: the cursor hidden, the first
// frame, then each redraw moving up over the frame before it (title plus one line per step) and
// clearing each line, the last frame left in place and the cursor shown again.
func TestLiveViewRedrawsInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		steps := []string{"outline", "draft"}
		p := newProgress(steps)
		var term lockedBuffer
		v := newLiveView(&term, p, "rebound demo", colorPalette())
		v.start()
		p.observe(rebound.Event{Time: time.Now(), Kind: rebound.StepStarted, Step: "outline"})
		time.Sleep(250 * time.Millisecond) // two redraws at 100 ms and 200 ms
		p.observe(rebound.Event{Time: time.Now(), Kind: rebound.StepCompleted, Step: "outline"})
		v.stop()

		out := term.String()
		if !strings.HasPrefix(out, hideCursor) || !strings.HasSuffix(out, showCursor) {
			t.Fatalf("the cursor is not hidden and shown again: %q", out)
		}
		frames := strings.Split(strings.TrimSuffix(strings.TrimPrefix(out, hideCursor), showCursor), "\r\x1b[3A")
		if len(frames) != 4 { // the first, two redraws, the last
			t.Fatalf("%d frames, want 4:\n%q", len(frames), out)
		}
		for i, f := range frames {
			if n := strings.Count(f, clearLine); n != 3 {
				t.Errorf("frame %d clears %d lines, want 3: %q", i, n, f)
			}
			if !strings.HasSuffix(f, "\n"+clearBelow) {
				t.Errorf("frame %d does not end below itself: %q", i, f)
			}
		}
		if !strings.Contains(frames[1], "⠙") || !strings.Contains(frames[2], "⠹") {
			t.Errorf("the spinner does not turn between redraws: %q, %q", frames[1], frames[2])
		}
		last := stripANSI(frames[3])
		for _, want := range []string{"rebound demo\n", "✓ outline  done", "○ draft    pending"} {
			if !strings.Contains(last, want) {
				t.Errorf("the last frame lacks %q:\n%s", want, last)
			}
		}
	})
}

func TestCutToWidth(t *testing.T) {
	red := colorPalette().bad.Render("✗ failed")
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"abc", 0, "abc"},
		{"abc", 3, "abc"},
		{"abcdef", 3, "abc" + sgrReset},
		{red, 20, red},
		{red, 3, "\x1b[31m✗ f" + sgrReset},
		{"→ " + red, 4, "→ \x1b[31m✗ " + sgrReset},
	} {
		if got := cutToWidth(tc.in, tc.width); got != tc.want {
			t.Errorf("cutToWidth(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// TestLiveViewFitsTheTerminal: a frame's lines never wrap, or the redraw would climb too few lines.
func TestLiveViewFitsTheTerminal(t *testing.T) {
	p := newProgress([]string{"a_step_with_a_long_name"})
	p.observe(rebound.Event{Time: time.Now(), Kind: rebound.Escalated, Step: "a_step_with_a_long_name", Reason: "irreversible_action", EscalationID: "esc_0123456789"})
	var out strings.Builder
	v := newLiveView(&out, p, "rebound demo · run r · a long title", colorPalette())
	v.width = func() int { return 20 }
	v.draw(time.Now())
	for _, l := range strings.Split(strings.TrimSuffix(stripANSI(out.String()), "\n"), "\n") {
		if n := len([]rune(l)); n > 20 {
			t.Errorf("line of %d cells on a 20-cell terminal: %q", n, l)
		}
	}
}

// TestRunDisplayChoice: a terminal gets the live view, other output one plain line per event,
// --json the events as JSON; NO_COLOR keeps the live view but drops its colours.
func TestRunDisplayChoice(t *testing.T) {
	ev := []rebound.Event{
		{Time: time.Now(), Kind: rebound.RunStarted, RunID: "r1"},
		{Time: time.Now(), Kind: rebound.StepStarted, Step: "outline"},
		{Time: time.Now(), Kind: rebound.StepCompleted, Step: "outline"},
	}
	run := func(g *globals) string {
		var out lockedBuffer
		d := g.newRunDisplay(&out, "rebound demo", []string{"outline"})
		d.start()
		for _, e := range ev {
			d.hook(context.Background(), e)
		}
		d.stop()
		return out.String()
	}
	noEnv := func(string) string { return "" }

	live := run(&globals{env: env{terminal: true, getenv: noEnv}})
	if !strings.Contains(live, hideCursor) || !strings.Contains(live, "\x1b[32m✓") || !strings.Contains(stripANSI(live), "✓ outline  done") {
		t.Errorf("terminal: not the live view: %q", live)
	}
	noColor := run(&globals{env: env{terminal: true, getenv: func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return ""
	}}})
	if !strings.Contains(noColor, hideCursor) || strings.Contains(noColor, "\x1b[32m") {
		t.Errorf("NO_COLOR: want the live view without colours: %q", noColor)
	}
	plain := run(&globals{env: env{getenv: noEnv}})
	if strings.Contains(plain, "\x1b") || !strings.Contains(plain, "run r1 started\n") || !strings.Contains(plain, "outline: done\n") {
		t.Errorf("not a terminal: want plain lines: %q", plain)
	}
	js := run(&globals{env: env{terminal: true, getenv: noEnv}, json: true})
	if strings.Contains(js, "\x1b") || !strings.Contains(js, `"step_completed"`) {
		t.Errorf("--json: want JSON events: %q", js)
	}
}
