package main

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// The terminal controls the live view writes (ECMA-48 / VT100; every terminal emulator in use
// reads them).
const (
	hideCursor = "\x1b[?25l"
	showCursor = "\x1b[?25h"
	clearLine  = "\x1b[2K"
	clearBelow = "\x1b[J"
	sgrReset   = "\x1b[0m"
)

// liveView is the terminal live view: a title and one line per step, redrawn in place ten times
// a second from the progress the run's events update. It reads no input: each redraw moves the
// cursor back up over the previous frame and rewrites it, each line cut to the terminal's width
// so that no line wraps and the next redraw lands where the last one began.
type liveView struct {
	w     io.Writer
	p     *progress
	title string
	pal   palette
	every time.Duration // the redraw interval
	width func() int    // the terminal's width in cells, read at each frame; 0 when unknown

	started  bool
	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
	drawn    int // lines the last frame left on the screen
	frame    int
}

func newLiveView(w io.Writer, p *progress, title string, pal palette) *liveView {
	return &liveView{
		w: w, p: p, title: title, pal: pal,
		every: 100 * time.Millisecond,
		width: terminalWidth(w),
		stopc: make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// terminalWidth returns how to read w's width, when w is a terminal.
func terminalWidth(w io.Writer) func() int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() int { return 0 }
	}
	return func() int {
		cols, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 0
		}
		return cols
	}
}

// start draws the first frame and redraws until stop. The redraws run on their own goroutine.
func (v *liveView) start() {
	v.started = true
	_, _ = io.WriteString(v.w, hideCursor)
	v.draw(time.Now())
	go func() {
		defer close(v.done)
		t := time.NewTicker(v.every)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				v.frame++
				v.draw(now)
			case <-v.stopc:
				return
			}
		}
	}()
}

// stop draws the last frame, leaves it on the screen with the cursor below it, and returns once
// the redraws have stopped.
func (v *liveView) stop() {
	if !v.started {
		return
	}
	v.stopOnce.Do(func() { close(v.stopc) })
	<-v.done
	v.draw(time.Now())
	_, _ = io.WriteString(v.w, showCursor)
}

// draw writes one frame over the previous one, in one write so that it never shows half drawn.
func (v *liveView) draw(now time.Time) {
	lines := append([]string{v.pal.bold.Render(v.title)}, v.p.lines(now, v.pal, v.frame)...)
	width := v.width()
	var b strings.Builder
	if v.drawn > 0 {
		b.WriteString("\r\x1b[" + strconv.Itoa(v.drawn) + "A")
	}
	for _, l := range lines {
		b.WriteString(clearLine)
		// The lines hold step names and errors: escape what could drive the terminal
		// (termsafe.go), keeping the palette's colours.
		b.WriteString(cutToWidth(termSafeKeepColor(l), width))
		b.WriteString("\n")
	}
	b.WriteString(clearBelow)
	v.drawn = len(lines)
	_, _ = io.WriteString(v.w, b.String()) // a closed terminal must not stop the run
}

// cutToWidth cuts s to width visible cells (0: no limit), keeping its escape sequences whole
// and resetting the style when it cuts. Every rune the view prints is one cell wide.
func cutToWidth(s string, width int) string {
	if width <= 0 {
		return s
	}
	cells := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j + 1
			continue
		}
		if cells == width {
			return s[:i] + sgrReset
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
		cells++
	}
	return s
}
