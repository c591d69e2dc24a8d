package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/store/sqlite"
)

// A person's plain-text answer to the demo's text step whose retries ran out is that step's
// text, and the run goes on to complete (it used to fail at resume: "decode reviewer's answer").
func TestRespondPlainTextToTextStepCompletes(t *testing.T) {
	dir := chdirTemp(t)
	store := tempStore(t)
	faults := filepath.Join(dir, "outage.faults")
	if err := os.WriteFile(faults, []byte(`error 503 contains="[section_1]"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, nil, "demo", "--run-id", "txt", "--faults", faults, store)
	mustCode(t, r, exitEscalated, "demo")
	esc := escalationID(t, store, "--status", "open")
	if esc == "" {
		t.Fatalf("no open escalation after the outage:\n%s%s", r.stdout, r.stderr)
	}
	res := cli(t, nil, "escalations", "resolve", esc, "--action", "respond", "--answer", "HUMAN-ANSWER-42", "--by", "ana", store)
	mustCode(t, res, exitCompleted, "resolve")
	resume := cli(t, nil, "runs", "resume", "txt", "--faults", faults, store)
	mustCode(t, resume, exitEscalated, "resume (stops at publish)")
	pub := escalationID(t, store, "--status", "open", "--reason", "irreversible_action")
	mustCode(t, cli(t, nil, "escalations", "resolve", pub, "--action", "approve", "--by", "ana", store), exitCompleted, "approve")
	mustCode(t, cli(t, nil, "runs", "resume", "txt", "--faults", faults, store), exitCompleted, "resume")
	show := cli(t, nil, "runs", "show", "txt", "--json", store)
	if !strings.Contains(show.stdout, "HUMAN-ANSWER-42") || !strings.Contains(show.stdout, `"completed"`) {
		t.Fatalf("the completed run should hold the person's answer as section_1's text:\n%s", show.stdout)
	}
}

// An answer that cannot become the step's result is refused by `escalations resolve` (exit 2)
// and the item stays open; a usable one completes the run.
func TestResolveRefusesUnusableAnswer(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := escalate.NewQueue(s, escalate.Config{})
	runner := checkpoint.NewRunner(s, checkpoint.Config{Escalations: q})
	var got []int
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		var err error
		got, err = checkpoint.Step(ctx, run, "pick", func(ctx context.Context) ([]int, error) {
			return nil, checkpoint.Escalate(rebound.ReasonRequiresHuman, "pick the rows", nil)
		})
		return err
	}
	var ee *checkpoint.EscalatedError
	if err := runner.Run(ctx, "pick-1", wf); !errors.As(err, &ee) {
		t.Fatalf("first run: %v", err)
	}
	store := "--store=sqlite:" + path
	bad := cli(t, nil, "escalations", "resolve", ee.EscalationID, "--action", "respond", "--answer", "HUMAN-ANSWER-42", "--by", "ana", store)
	if bad.code != exitUsage || !strings.Contains(bad.stderr, "JSON array") {
		t.Fatalf("resolve with text for a JSON array step: exit %d, stderr %q; want exit 2 saying a JSON array is needed", bad.code, bad.stderr)
	}
	var it struct{ Status string }
	if err := json.Unmarshal([]byte(cli(t, nil, "escalations", "show", ee.EscalationID, "--json", store).stdout), &it); err != nil || it.Status != "open" {
		t.Fatalf("after a refused answer the item is %q (%v), want open", it.Status, err)
	}
	mustCode(t, cli(t, nil, "escalations", "resolve", ee.EscalationID, "--action", "respond", "--answer", "[3, 5]", "--by", "ana", store), exitCompleted, "resolve")
	if err := runner.Run(ctx, "pick-1", wf); err != nil || len(got) != 2 || got[1] != 5 {
		t.Fatalf("resume: %v, result %v", err, got)
	}
}
