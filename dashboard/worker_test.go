package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/dashboard"
)

func (b *bundle) registry() dashboard.Registry {
	return dashboard.Registry{
		"research": dashboard.Resume(b.runner, func(_ context.Context, input json.RawMessage) (checkpoint.Workflow, error) {
			var in struct{ Topic string }
			if err := json.Unmarshal(input, &in); err != nil {
				return nil, err
			}
			return b.workflow(in.Topic), nil
		}),
	}
}

func (b *bundle) runStatus(t *testing.T, id string) checkpoint.Status {
	t.Helper()
	rec, err := b.runs.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Status
}

func TestNewWorkerNeedsItsSources(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, cfg := range []dashboard.WorkerConfig{
		{Decisions: b.queue, Registry: dashboard.Registry{}},
		{Runs: b.runs, Registry: dashboard.Registry{}},
		{Runs: b.runs, Decisions: b.queue},
		{Runs: b.runs, Decisions: b.queue, Registry: dashboard.Registry{}, Interval: -1},
	} {
		if _, err := dashboard.NewWorker(cfg); err == nil {
			t.Errorf("NewWorker(%+v) succeeded", cfg)
		}
	}
}

func TestWorkerResumesDecidedRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := t.Context()
	approve := b.escalatedRun(t, "run-approve")
	reject := b.escalatedRun(t, "run-reject")
	b.escalatedRun(t, "run-waiting")

	var mu sync.Mutex
	outcomes := map[string]error{}
	w, err := dashboard.NewWorker(dashboard.WorkerConfig{
		Runs: b.runs, Decisions: b.queue, Registry: b.registry(),
		OnResume: func(run checkpoint.RunInfo, err error) {
			mu.Lock()
			defer mu.Unlock()
			outcomes[run.ID] = err
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("Poll before any decision = %d, %v; want 0", n, err)
	}
	if _, err := b.queue.Resolve(ctx, approve, rebound.Decision{Action: rebound.ActionApprove, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Resolve(ctx, reject, rebound.Decision{Action: rebound.ActionReject, Note: "not today", By: "bob"}); err != nil {
		t.Fatal(err)
	}
	n, err := w.Poll(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Poll = %d, %v; want 2 resumed", n, err)
	}
	if got := b.runStatus(t, "run-approve"); got != checkpoint.StatusCompleted {
		t.Errorf("approved run is %s, want completed", got)
	}
	if got := b.runStatus(t, "run-reject"); got != checkpoint.StatusFailed {
		t.Errorf("rejected run is %s, want failed", got)
	}
	if got := b.runStatus(t, "run-waiting"); got != checkpoint.StatusEscalated {
		t.Errorf("undecided run is %s, want escalated", got)
	}
	if b.publishN != 1 {
		t.Errorf("publish ran %d times, want once (the approved run)", b.publishN)
	}
	if err := outcomes["run-approve"]; err != nil {
		t.Errorf("approved run's outcome = %v", err)
	}
	if err := outcomes["run-reject"]; !errors.Is(err, checkpoint.ErrRejected) {
		t.Errorf("rejected run's outcome = %v, want ErrRejected", err)
	}
	// Nothing is resumed twice.
	if n, err := w.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("second Poll = %d, %v; want 0", n, err)
	}
}

func TestWorkerRespondAndRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := t.Context()
	respond := b.escalatedRun(t, "run-respond")
	retried := b.escalatedRun(t, "run-retry")
	w, err := dashboard.NewWorker(dashboard.WorkerConfig{Runs: b.runs, Decisions: b.queue, Registry: b.registry(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Resolve(ctx, respond, rebound.Decision{Action: rebound.ActionRespond, Answer: "published by hand", By: "carol"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Dismiss(ctx, retried, "dan", "no longer needed"); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Poll(ctx); err != nil || n != 2 {
		t.Fatalf("Poll = %d, %v", n, err)
	}
	if got := b.runStatus(t, "run-respond"); got != checkpoint.StatusCompleted {
		t.Errorf("responded run is %s, want completed", got)
	}
	if got := b.runStatus(t, "run-retry"); got != checkpoint.StatusFailed {
		t.Errorf("dismissed run is %s, want failed", got)
	}
	if b.publishN != 0 {
		t.Errorf("publish ran %d times; a response replaces it, a dismissal rejects it", b.publishN)
	}
}

func TestWorkerSkipsUnregisteredWorkflows(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ctx := t.Context()
	id := b.escalatedRun(t, "run-x")
	if _, err := b.queue.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionApprove, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	w, err := dashboard.NewWorker(dashboard.WorkerConfig{Runs: b.runs, Decisions: b.queue,
		Registry: dashboard.Registry{"other": nil}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Poll(ctx); err != nil || n != 1 {
		t.Fatalf("Poll = %d, %v", n, err)
	}
	if !strings.Contains(logs.String(), `workflow research is not registered`) {
		t.Errorf("log lacks the unregistered workflow:\n%s", logs.String())
	}
	// Backing off: the next poll does not try again at once, nor log again.
	logs.Reset()
	if n, err := w.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("Poll while backing off = %d, %v", n, err)
	}
	if logs.Len() != 0 {
		t.Errorf("logged again while backing off:\n%s", logs.String())
	}
	if got := b.runStatus(t, "run-x"); got != checkpoint.StatusEscalated {
		t.Errorf("run is %s, want still escalated", got)
	}
}

func TestWorkerRunStopsWithContext(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	w, err := dashboard.NewWorker(dashboard.WorkerConfig{Runs: b.runs, Decisions: b.queue, Registry: b.registry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}
