package main

import (
	"strings"
	"testing"
)

// TestEscalationShowSaysWhatApprovingDoes: `escalations show` of the demo's publish says what
// approving will do and makes no decision for the reviewer; once the run completed it no longer
// says to continue it.
func TestEscalationShowSaysWhatApprovingDoes(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	mustCode(t, cli(t, nil, "demo", "--run-id", "h1", "--faults", noFaults(t), store), exitEscalated, "demo")
	esc := escalationID(t, store)
	show := cli(t, nil, "escalations", "show", esc, store)
	mustCode(t, show, 0, "escalations show")
	for _, want := range []string{
		"What each decision does (none is made for you):",
		"approve  it will publish the report on",
		"reports/h1.md; a published report is not taken back.",
		"reject   the run fails; step publish does not run",
	} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("escalations show lacks %q:\n%s", want, show.stdout)
		}
	}
	mustCode(t, cli(t, nil, "escalations", "resolve", esc, "--action", "approve", "--by", "alice", store), 0, "resolve")
	mustCode(t, cli(t, nil, "runs", "resume", "h1", store), 0, "resume")
	after := cli(t, nil, "escalations", "show", esc, store)
	if strings.Contains(after.stdout, "Continue the run") || !strings.Contains(after.stdout, "Run h1 is completed: nothing left to do.") {
		t.Errorf("escalations show after the run completed:\n%s", after.stdout)
	}
}

// TestRejectedRunHintsANewRun: after a reject the summary does not suggest rerunning the same
// run (which fails the same way).
func TestRejectedRunHintsANewRun(t *testing.T) {
	chdirTemp(t)
	store := tempStore(t)
	mustCode(t, cli(t, nil, "demo", "--run-id", "h2", "--faults", noFaults(t), store), exitEscalated, "demo")
	esc := escalationID(t, store)
	mustCode(t, cli(t, nil, "escalations", "resolve", esc, "--action", "reject", "--by", "alice", store), 0, "resolve")
	r := cli(t, nil, "runs", "resume", "h2", store)
	mustCode(t, r, exitFailed, "resume after reject")
	if strings.Contains(r.stdout, "rerun with") || !strings.Contains(r.stdout, "Start a new run with another --run-id") {
		t.Errorf("summary after a reject:\n%s", r.stdout)
	}
}

// TestMemoryStorePrintsNoDeadCommands: with --store memory: nothing outlives the command, so
// the summary prints no command to resolve or resume.
func TestMemoryStorePrintsNoDeadCommands(t *testing.T) {
	chdirTemp(t)
	r := cli(t, nil, "demo", "--run-id", "h3", "--faults", noFaults(t), "--store", "memory:")
	mustCode(t, r, exitEscalated, "demo")
	if strings.Contains(r.stdout, "escalations resolve") || strings.Contains(r.stdout, "runs resume") ||
		!strings.Contains(r.stdout, "memory: store") {
		t.Errorf("summary on memory: prints commands that must fail:\n%s", r.stdout)
	}
}

// TestDurationFlagsMustBePositive: serve --worker-interval and escalations claim --for refuse
// zero and negative durations, naming the flag, before serving or changing anything.
func TestDurationFlagsMustBePositive(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--worker", "--worker-interval", "-1s", "--addr", "127.0.0.1:0", "--store", "memory:"}, "--worker-interval -1s: want a positive duration"},
		{[]string{"serve", "--worker", "--worker-interval", "0", "--addr", "127.0.0.1:0", "--store", "memory:"}, "--worker-interval 0s: want a positive duration"},
		{[]string{"escalations", "claim", "esc_x", "--by", "a", "--for", "0", "--store", "memory:"}, "--for 0s: want a positive duration"},
	} {
		r := cli(t, nil, c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stdout+r.stderr, "Serving on") {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s\nwant %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}
