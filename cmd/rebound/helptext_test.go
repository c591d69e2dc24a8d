package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestHelpExitCodes: every command's --help lists its exit codes, from one table
// (exitCodesHelp); testdata/help-exit-codes.golden holds, for each command, the paragraph its
// --help prints (go test -run TestHelpExitCodes -update rewrites it).
func TestHelpExitCodes(t *testing.T) {
	var b strings.Builder
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() || !c.HasParent() {
			r := cli(t, nil, append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "rebound")), "--help")...)
			mustCode(t, r, 0, c.CommandPath()+" --help")
			_, codes, ok := strings.Cut(r.stdout, "Exit codes:")
			if !ok {
				t.Errorf("%s --help lists no exit codes", c.CommandPath())
			}
			codes, _, _ = strings.Cut(codes, "\n\n")
			b.WriteString("## " + c.CommandPath() + "\nExit codes:" + codes + "\n\n")
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				walk(sub)
			}
		}
	}
	walk(newRootCmd(&globals{}))
	const golden = "testdata/help-exit-codes.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("the exit codes of --help differ from %s (rerun with -update after checking):\n%s", golden, b.String())
	}
}

// TestRunsResumeHelpProviderDefault: `runs resume --help` does not claim the provider defaults to
// the fake; resume uses the providers recorded with the run.
func TestRunsResumeHelpProviderDefault(t *testing.T) {
	r := cli(t, nil, "runs", "resume", "--help")
	mustCode(t, r, 0, "runs resume --help")
	if strings.Contains(r.stdout, `(default "fake")`) || !strings.Contains(r.stdout, "(default: the provider recorded with the run)") {
		t.Errorf("runs resume --help:\n%s", r.stdout)
	}
	demo := cli(t, nil, "demo", "--help")
	if !strings.Contains(demo.stdout, `(default "fake")`) {
		t.Errorf("demo --help lost its --provider default:\n%s", demo.stdout)
	}
}

// TestFakeLLMHelpAndGlobalFlags: fakellm's example against the demo gives --attempt-timeout
// (without it a hang waits a real provider's 90 s), and the global flags that mean nothing to
// fakellm are refused, naming the flag.
func TestFakeLLMHelpAndGlobalFlags(t *testing.T) {
	h := cli(t, nil, "fakellm", "--help")
	if !strings.Contains(h.stdout, "--base-url http://127.0.0.1:8081 --model claude-x --attempt-timeout 5s") {
		t.Errorf("fakellm --help:\n%s", h.stdout)
	}
	for _, args := range [][]string{{"--store", "sqlite:x.db"}, {"--json"}} {
		r := cli(t, nil, append([]string{"fakellm", "--addr", "127.0.0.1:0"}, args...)...)
		mustCode(t, r, exitUsage, "fakellm "+strings.Join(args, " "))
		if !strings.Contains(r.stderr, args[0]+" means nothing to fakellm") {
			t.Errorf("fakellm %s: %s", strings.Join(args, " "), r.stderr)
		}
	}
}
