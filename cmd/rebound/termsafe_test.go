package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/sqlite"
)

// hostile holds escape sequences that would clear the screen, set the window title and write
// the clipboard (OSC 52), a CSI by its 8-bit form, and a carriage return that would overwrite
// the line.
const hostile = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\u009b2J\rfake"

// TestTextOutputEscapesTerminalControls: step names, errors and context from a run are printed
// with their control characters escaped, as --json escapes them; nothing reaches the terminal
// raw.
func TestTextOutputEscapesTerminalControls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rebound.db")
	store := "--store=sqlite:" + path
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	runner := checkpoint.NewRunner(st, checkpoint.Config{Escalations: escalate.NewQueue(st, escalate.Config{})})
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("context "+hostile)); err != nil {
			return err
		}
		if _, err := checkpoint.Step(ctx, run, "step"+hostile, func(ctx context.Context) (string, error) {
			return "result " + hostile, nil
		}); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "publish"+hostile, func(ctx context.Context) (string, error) {
			return "", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	err = runner.Run(context.Background(), "evil", wf, checkpoint.WithWorkflow("evil", nil))
	var esc *checkpoint.EscalatedError
	if !errors.As(err, &esc) {
		t.Fatalf("run: %v, want an escalation", err)
	}
	st.Close()
	id := escalationID(t, store)
	for _, args := range [][]string{
		{"runs", "list"}, {"runs", "show", "evil"}, {"escalations", "list"}, {"escalations", "show", id},
	} {
		r := cli(t, nil, append(args, store)...)
		out := r.stdout + r.stderr
		if strings.ContainsAny(out, "\x1b\x07\r") || strings.Contains(out, "\u009b") {
			t.Errorf("%s printed raw control characters:\n%q", strings.Join(args, " "), out)
		}
		if args[0] == "runs" && args[1] == "show" && !strings.Contains(out, `\x1b]0;pwned\x07`) {
			t.Errorf("%s does not show the escaped sequence:\n%s", strings.Join(args, " "), out)
		}
	}
}

func TestEscapeTermKeepsColourOnly(t *testing.T) {
	for in, want := range map[string]string{
		"plain\n\ttext":              "plain\n\ttext",
		"\x1b[1mbold\x1b[0m":         "\x1b[1mbold\x1b[0m",
		"\x1b[2J":                    `\x1b[2J`,
		"\x1b]0;t\x07":               `\x1b]0;t\x07`,
		"a\rb\x7f\u009b\u00e9":       `a\rb\x7f\u009bé`,
		"\x1b":                       `\x1b`,
		"\x1b[38;5;196mred\x1b[m ok": "\x1b[38;5;196mred\x1b[m ok",
	} {
		if got := termSafeKeepColor(in); got != want {
			t.Errorf("termSafeKeepColor(%q) = %q, want %q", in, got, want)
		}
	}
}
