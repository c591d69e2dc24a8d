package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/escalate/escalatetest"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/store/sqlite"
)

// TestRunJournalRedacted: a durable run and its queue in one file. A step fails with secrets in
// its error text, retries, escalates and is rejected; neither the queue's rows nor the run's
// journal (step, attempt and run errors) keep the secrets: the raw file and its WAL hold none.
func TestRunJournalRedacted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rebound.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sec := escalatetest.NewSecrets()
	q := escalate.NewQueue(s, escalate.Config{})
	r := checkpoint.NewRunner(s, checkpoint.Config{Escalations: q})
	failure := &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Message: fmt.Sprintf(
		"overloaded (x-api-key: %s; Authorization: Bearer %s; fallback key %s, %s)",
		sec.Anthropic, sec.Bearer, sec.OpenAIProject, sec.OpenAI)}
	policy := retry.Policy{MaxAttempts: 2, Rand: func() float64 { return 0 }}
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "call", func(ctx context.Context) (string, error) {
			return retry.Do(ctx, policy, func(ctx context.Context) (string, error) { return "", failure })
		})
		return err
	}
	var ee *checkpoint.EscalatedError
	if err := r.Run(ctx, "run-secret", wf); !errors.As(err, &ee) {
		t.Fatalf("run: %v, want an escalation", err)
	}
	if !strings.Contains(ee.Error(), sec.Anthropic) {
		t.Errorf("the error returned to the caller lost its text: %v", ee)
	}
	if _, err := q.Resolve(ctx, ee.EscalationID, rebound.Decision{Action: rebound.ActionReject,
		Note: "key " + sec.Generic, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, "run-secret", wf); !errors.Is(err, checkpoint.ErrRejected) {
		t.Fatalf("resumed run: %v, want a rejection", err)
	}
	v, err := checkpoint.Get(ctx, s, "run-secret")
	if err != nil {
		t.Fatal(err)
	}
	if v.Error == "" || len(v.Steps) != 1 || len(v.Steps[0].Attempts) == 0 {
		t.Fatalf("journal without errors or attempts: %+v", v)
	}
	var raw []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	if !strings.Contains(string(raw), "overloaded (x-api-key") {
		t.Fatal("the raw file holds no error text: the check would prove nothing")
	}
	if leaks := sec.Leaks(raw); len(leaks) > 0 {
		t.Errorf("secrets in the raw database file: %q", leaks)
	}
}
