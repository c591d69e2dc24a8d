package checkpoint_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// workerBundle is a runner over a memory store whose escalations go to a memory queue, and a
// workflow that stops at a step needing approval.
type workerBundle struct {
	runs      *checkpoint.MemoryStore
	queue     *escalate.Queue
	runner    *checkpoint.Runner
	mu        sync.Mutex
	published int
}

func newWorkerBundle(t *testing.T) *workerBundle {
	t.Helper()
	b := &workerBundle{runs: checkpoint.NewMemoryStore(), queue: escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})}
	b.runner = checkpoint.NewRunner(b.runs, checkpoint.Config{Escalations: b.queue})
	return b
}

// workflows is the one registry: what Runner.Resume and the Worker both take.
func (b *workerBundle) workflows() map[string]checkpoint.Workflow {
	return map[string]checkpoint.Workflow{"publish": b.publish}
}

func (b *workerBundle) publish(ctx context.Context, run *checkpoint.Run) error {
	var in struct{ Doc string }
	if err := run.DecodeInput(&in); err != nil {
		return err
	}
	_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
		b.mu.Lock()
		b.published++
		b.mu.Unlock()
		return "published " + in.Doc, nil
	}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
	return err
}

func (b *workerBundle) escalated(t *testing.T, runID string) string {
	t.Helper()
	err := b.runner.Run(t.Context(), runID, b.publish, checkpoint.WithWorkflow("publish", map[string]string{"doc": runID}))
	var esc *checkpoint.EscalatedError
	if !errors.As(err, &esc) {
		t.Fatalf("run %s = %v, want an escalation", runID, err)
	}
	return esc.EscalationID
}

func (b *workerBundle) status(t *testing.T, id string) checkpoint.Status {
	t.Helper()
	rec, err := b.runs.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Status
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestNewWorkerNeedsItsSources(t *testing.T) {
	b := newWorkerBundle(t)
	noEsc := checkpoint.NewRunner(b.runs, checkpoint.Config{})
	for _, tc := range []struct {
		r   *checkpoint.Runner
		cfg checkpoint.WorkerConfig
	}{
		{nil, checkpoint.WorkerConfig{Workflows: b.workflows()}},
		{noEsc, checkpoint.WorkerConfig{Workflows: b.workflows()}},
		{b.runner, checkpoint.WorkerConfig{}},
		{b.runner, checkpoint.WorkerConfig{Workflows: b.workflows(), Interval: -1}},
	} {
		if _, err := checkpoint.NewWorker(tc.r, tc.cfg); err == nil {
			t.Errorf("NewWorker(%v, %+v) succeeded", tc.r, tc.cfg)
		}
	}
}

func TestWorkerResumesDecidedRuns(t *testing.T) {
	b := newWorkerBundle(t)
	ctx := t.Context()
	approve := b.escalated(t, "run-approve")
	reject := b.escalated(t, "run-reject")
	respond := b.escalated(t, "run-respond")
	dismiss := b.escalated(t, "run-dismiss")
	b.escalated(t, "run-waiting")

	var mu sync.Mutex
	outcomes := map[string]error{}
	w, err := checkpoint.NewWorker(b.runner, checkpoint.WorkerConfig{Workflows: b.workflows(), Logger: quiet(),
		OnResume: func(run checkpoint.RunInfo, err error) {
			mu.Lock()
			defer mu.Unlock()
			outcomes[run.ID] = err
		}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("Poll before any decision = %d, %v; want 0", n, err)
	}
	for id, d := range map[string]rebound.Decision{
		approve: {Action: rebound.ActionApprove, By: "alice"},
		reject:  {Action: rebound.ActionReject, Note: "not today", By: "bob"},
		respond: {Action: rebound.ActionRespond, Answer: "published by hand", By: "carol"},
	} {
		if _, err := b.queue.Resolve(ctx, id, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.queue.Dismiss(ctx, dismiss, "dan", "no longer needed"); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Poll(ctx); err != nil || n != 4 {
		t.Fatalf("Poll = %d, %v; want 4 resumed", n, err)
	}
	for id, want := range map[string]checkpoint.Status{"run-approve": checkpoint.StatusCompleted,
		"run-reject": checkpoint.StatusFailed, "run-respond": checkpoint.StatusCompleted,
		"run-dismiss": checkpoint.StatusFailed, "run-waiting": checkpoint.StatusEscalated} {
		if got := b.status(t, id); got != want {
			t.Errorf("%s is %s, want %s", id, got, want)
		}
	}
	if b.published != 1 {
		t.Errorf("publish ran %d times, want once (the approved run)", b.published)
	}
	if err := outcomes["run-approve"]; err != nil {
		t.Errorf("approved run's outcome = %v", err)
	}
	if err := outcomes["run-reject"]; !errors.Is(err, checkpoint.ErrRejected) {
		t.Errorf("rejected run's outcome = %v, want ErrRejected", err)
	}
	if n, err := w.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("second Poll = %d, %v; want 0 (nothing is resumed twice)", n, err)
	}
}

func TestWorkerSkipsUnregisteredWorkflows(t *testing.T) {
	b := newWorkerBundle(t)
	ctx := t.Context()
	id := b.escalated(t, "run-x")
	if _, err := b.queue.Resolve(ctx, id, rebound.Decision{Action: rebound.ActionApprove, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	w, err := checkpoint.NewWorker(b.runner, checkpoint.WorkerConfig{Workflows: map[string]checkpoint.Workflow{"other": nil},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Poll(ctx); err != nil || n != 1 {
		t.Fatalf("Poll = %d, %v", n, err)
	}
	if !strings.Contains(logs.String(), `workflow publish is not registered`) {
		t.Errorf("log lacks the unregistered workflow:\n%s", logs.String())
	}
	// Backing off (at least Interval, 2 s): the next poll does not try again at once, nor log.
	logs.Reset()
	if n, err := w.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("Poll while backing off = %d, %v", n, err)
	}
	if logs.Len() != 0 {
		t.Errorf("logged again while backing off:\n%s", logs.String())
	}
	if got := b.status(t, "run-x"); got != checkpoint.StatusEscalated {
		t.Errorf("run is %s, want still escalated", got)
	}
}

// decidedStore is a memory store that answers the worker's question in one query, counting
// the queries of each kind.
type decidedStore struct {
	*checkpoint.MemoryStore
	queue           *escalate.Queue
	decided, listed int
}

func (s *decidedStore) ListRuns(ctx context.Context, f checkpoint.RunFilter) ([]checkpoint.RunInfo, error) {
	s.listed++
	return s.MemoryStore.ListRuns(ctx, f)
}

func (s *decidedStore) ListDecidedRuns(ctx context.Context, f checkpoint.RunFilter) ([]checkpoint.RunInfo, error) {
	s.decided++
	runs, err := s.MemoryStore.ListRuns(ctx, checkpoint.RunFilter{Status: []checkpoint.Status{checkpoint.StatusEscalated}})
	var out []checkpoint.RunInfo
	for _, r := range runs {
		if _, ok, _ := s.queue.Decision(ctx, r.EscalationID); ok {
			out = append(out, r)
		}
	}
	return out, err
}

// decisionCounter counts the per-escalation questions the worker asks.
type decisionCounter struct {
	*escalate.Queue
	n int
}

func (d *decisionCounter) Decision(ctx context.Context, id string) (rebound.Decision, bool, error) {
	d.n++
	return d.Queue.Decision(ctx, id)
}

// A store with the decided-runs query is asked once per poll: no list of every escalated run,
// no question per escalation.
func TestWorkerUsesTheDecidedQuery(t *testing.T) {
	ctx := t.Context()
	queue := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	counter := &decisionCounter{Queue: queue}
	store := &decidedStore{MemoryStore: checkpoint.NewMemoryStore(), queue: queue}
	b := &workerBundle{runs: store.MemoryStore, queue: queue}
	b.runner = checkpoint.NewRunner(store, checkpoint.Config{Escalations: counter})
	ids := []string{b.escalated(t, "a"), b.escalated(t, "b"), b.escalated(t, "c")}
	if _, err := queue.Resolve(ctx, ids[1], rebound.Decision{Action: rebound.ActionApprove, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	w, err := checkpoint.NewWorker(b.runner, checkpoint.WorkerConfig{Workflows: b.workflows(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	counter.n, store.listed = 0, 0
	if n, err := w.Poll(ctx); err != nil || n != 1 {
		t.Fatalf("Poll = %d, %v; want 1", n, err)
	}
	if store.decided != 1 || store.listed != 0 {
		t.Errorf("Poll made %d decided-runs queries and %d list queries, want 1 and 0", store.decided, store.listed)
	}
	// The one resume reads its own decision; the poll itself asked nothing per run.
	if counter.n != 1 {
		t.Errorf("%d decisions were asked for, want 1 (the resumed run's own)", counter.n)
	}
}

func TestWorkerRunStopsWithContext(t *testing.T) {
	b := newWorkerBundle(t)
	w, err := checkpoint.NewWorker(b.runner, checkpoint.WorkerConfig{Workflows: b.workflows(), Logger: quiet()})
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
