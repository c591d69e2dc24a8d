//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDemoInterruptedIsCanceled: Ctrl-C (a real SIGINT to a real process) during `rebound demo`
// cancels the run: exit code 130 (not 1), the output says canceled and how to resume (never
// "run failed"), the run is canceled in the store, and `runs resume` goes on from where it was.
func TestDemoInterruptedIsCanceled(t *testing.T) {
	dir := t.TempDir()
	faults := filepath.Join(dir, "slow.txt")
	if err := os.WriteFile(faults, []byte("latency 3s contains=\"[section_1]\" times=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := "--store=sqlite:" + filepath.Join(dir, "rebound.db")
	cmd := exec.Command(os.Args[0], "demo", "--run-id", "ctrlc", "--faults", faults, store)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REBOUND_TEST_AS_MAIN=1")
	stdout, stderr, err := signalAtLine(t, cmd, "section_1: started", syscall.SIGINT)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Errorf("exit: %v, want exit code %d", err, exitInterrupted)
	}
	all := stdout + stderr
	for _, want := range []string{"run ctrlc canceled (interrupted)", "rebound runs resume ctrlc"} {
		if !strings.Contains(all, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if strings.Contains(all, "failed") {
		t.Errorf("the output says failed")
	}
	if t.Failed() {
		t.Fatalf("output:\n%s\nstderr:\n%s", stdout, stderr)
	}
	t.Chdir(dir)
	show := cli(t, nil, "runs", "show", "ctrlc", store)
	if !strings.Contains(show.stdout, "ctrlc (research): canceled") {
		t.Errorf("runs show:\n%s", show.stdout)
	}
	r := cli(t, nil, "runs", "resume", "ctrlc", store)
	mustCode(t, r, exitEscalated, "runs resume")
	if !strings.Contains(r.stdout, "outline: done earlier, skipped") {
		t.Errorf("the resume did not go on from the outline:\n%s", r.stdout)
	}
}
