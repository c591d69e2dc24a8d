package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// termWriter keeps what the CLI prints from driving the terminal. Step names, errors, answers
// and context come from workflows, models and reviewers; printed raw, an escape sequence among
// them could clear the screen, set the window title or write the clipboard. termWriter writes
// every control character but newline and tab as a visible Go escape (ESC as \x1b, CR as \r,
// U+009B as \u009b), as --json's encoding already does. Colour (SGR: ESC [ digits m), which the
// CLI's own summary uses, passes through: it changes no state but the colour. The live view,
// which moves the cursor, writes to the terminal directly and escapes its lines with
// termSafeKeepColor.
type termWriter struct {
	w io.Writer
}

func newTermWriter(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	if _, ok := w.(*termWriter); ok {
		return w
	}
	return &termWriter{w: w}
}

// rawWriter returns the writer under a termWriter (for the live view), or w itself.
func rawWriter(w io.Writer) io.Writer {
	if t, ok := w.(*termWriter); ok {
		return t.w
	}
	return w
}

func (t *termWriter) Write(p []byte) (int, error) {
	s := string(p)
	if !needsEscape(s) {
		return t.w.Write(p)
	}
	if _, err := io.WriteString(t.w, escapeTerm(s, true)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// termSafeKeepColor is what termWriter writes for s: for the live view's lines, which hold
// the palette's colours around text from the run.
func termSafeKeepColor(s string) string {
	if !needsEscape(s) {
		return s
	}
	return escapeTerm(s, true)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || c == 0xc2 {
			return true
		}
	}
	return false
}

// escapeTerm escapes s; keepSGR lets colour sequences through.
func escapeTerm(s string, keepSGR bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b && keepSGR:
			if n := sgrLen(s[i:]); n > 0 {
				b.WriteString(s[i : i+n])
				i += n
				continue
			}
			b.WriteString(`\x1b`)
			i++
		case c == '\n' || c == '\t':
			b.WriteByte(c)
			i++
		case c == '\r':
			b.WriteString(`\r`)
			i++
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
			i++
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r >= 0x80 && r <= 0x9f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// sgrLen returns the length of the SGR sequence (ESC [ params m) s starts with, or 0.
func sgrLen(s string) int {
	if len(s) < 3 || s[0] != 0x1b || s[1] != '[' {
		return 0
	}
	for i := 2; i < len(s) && i < 64; i++ {
		switch c := s[i]; {
		case c == 'm':
			return i + 1
		case (c >= '0' && c <= '9') || c == ';' || c == ':':
		default:
			return 0
		}
	}
	return 0
}
