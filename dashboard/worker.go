package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

// ResumeFunc runs a run again under its ID, so that the workflow picks up where it stopped: the
// escalated step receives the reviewer's decision, completed steps return their recorded
// results. run carries the workflow's name and the input it was started with
// (checkpoint.WithWorkflow). It returns what checkpoint.Runner.Run returns.
type ResumeFunc func(ctx context.Context, run checkpoint.RunInfo) error

// Registry maps a workflow's name (the name given to checkpoint.WithWorkflow when the run
// started) to the function that resumes its runs. Build it in the program that serves the
// dashboard; nothing is registered globally.
type Registry map[string]ResumeFunc

// Resume returns a ResumeFunc that rebuilds the workflow from the run's recorded input with
// build, and runs it on runner under the run's ID. It is the usual way to register a workflow:
//
//	reg := dashboard.Registry{
//		"report": dashboard.Resume(runner, func(ctx context.Context, input json.RawMessage) (checkpoint.Workflow, error) {
//			var in ReportInput
//			if err := json.Unmarshal(input, &in); err != nil {
//				return nil, err
//			}
//			return reportWorkflow(in), nil
//		}),
//	}
func Resume(runner *checkpoint.Runner, build func(ctx context.Context, input json.RawMessage) (checkpoint.Workflow, error)) ResumeFunc {
	return func(ctx context.Context, run checkpoint.RunInfo) error {
		wf, err := build(ctx, run.Input)
		if err != nil {
			return fmt.Errorf("build workflow %q for run %q: %w", run.Workflow, run.ID, err)
		}
		return runner.Run(ctx, run.ID, wf)
	}
}

// WorkerRuns is what the worker reads of the run journal; every checkpoint.Store implements it.
type WorkerRuns interface {
	ListRuns(ctx context.Context, f checkpoint.RunFilter) ([]checkpoint.RunInfo, error)
}

// Decisions reports the decision on an escalation; *escalate.Queue implements it.
type Decisions interface {
	Decision(ctx context.Context, id string) (rebound.Decision, bool, error)
}

var _ Decisions = (*escalate.Queue)(nil)

// WorkerConfig configures a Worker. Runs, Decisions and Registry are required.
type WorkerConfig struct {
	Runs      WorkerRuns
	Decisions Decisions
	// Registry resumes the runs of each workflow. A run whose workflow is not in it is left
	// alone (and logged once).
	Registry Registry
	// Interval is how often the worker looks for decided escalations. Default 2 s.
	Interval time.Duration
	// Concurrency is how many runs resume at once. Default 4.
	Concurrency int
	// MaxBackoff caps the wait before a run whose resume failed (a store error, a workflow that
	// cannot be built) is tried again; the wait starts at Interval and doubles. Default 5 min.
	MaxBackoff time.Duration
	// OnResume, if set, is called after each resume with its outcome (nil: completed; an error
	// matching checkpoint.ErrEscalated: waiting again; checkpoint.ErrRejected: failed by the
	// reviewer's decision). Called on the resuming goroutine, with no lock held.
	OnResume func(run checkpoint.RunInfo, err error)
	// Logger receives a line per resume and per problem. Default slog.Default().
	Logger *slog.Logger
}

// Worker resumes runs whose escalations were decided: a decision in the dashboard, the API or
// `rebound escalations resolve` finishes the run without anyone typing `rebound runs resume`.
// It finds runs in status escalated whose current escalation has a decision, and resumes each
// through the Registry. Several workers (in several processes) may share one store: the run's
// lease lets one of them resume it and the others skip it. Safe for concurrent use.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger

	mu    sync.Mutex
	retry map[string]retryState // by run ID
}

type retryState struct {
	escalation string // the escalation the failure was about; a new one starts afresh
	failures   int
	next       time.Time
	logged     bool
}

// NewWorker returns a worker for cfg, or an error naming a missing field.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	switch {
	case cfg.Runs == nil:
		return nil, errors.New("dashboard: WorkerConfig.Runs is required")
	case cfg.Decisions == nil:
		return nil, errors.New("dashboard: WorkerConfig.Decisions is required")
	case cfg.Registry == nil:
		return nil, errors.New("dashboard: WorkerConfig.Registry is required")
	case cfg.Interval < 0 || cfg.Concurrency < 0 || cfg.MaxBackoff < 0:
		return nil, errors.New("dashboard: WorkerConfig Interval, Concurrency and MaxBackoff must be >= 0")
	}
	cfg.Interval = cmp.Or(cfg.Interval, 2*time.Second)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 4)
	cfg.MaxBackoff = max(cmp.Or(cfg.MaxBackoff, 5*time.Minute), cfg.Interval)
	return &Worker{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), retry: make(map[string]retryState)}, nil
}

// Run polls every Interval until ctx ends, and returns ctx's error. Resumes in flight when ctx
// ends see it cancelled (the runs stay resumable) and are waited for.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "resume worker: poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Poll looks once for runs whose escalation was decided and resumes them, at most Concurrency
// at a time, returning when they are done. It returns how many it resumed, and an error only
// when the runs could not be listed (a resume's failure goes to the log and OnResume).
func (w *Worker) Poll(ctx context.Context) (int, error) {
	due, err := w.due(ctx)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, run := range due {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return 0, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w.resume(ctx, run)
		}()
	}
	wg.Wait()
	return len(due), nil
}

// due lists the escalated runs whose escalation has a decision and that are not backing off.
func (w *Worker) due(ctx context.Context) ([]checkpoint.RunInfo, error) {
	var out []checkpoint.RunInfo
	now := time.Now()
	seen := make(map[string]bool)
	const page = 200
	for offset := 0; ; offset += page {
		runs, err := w.cfg.Runs.ListRuns(ctx, checkpoint.RunFilter{
			Status: []checkpoint.Status{checkpoint.StatusEscalated}, Limit: page, Offset: offset,
		})
		if err != nil {
			return nil, fmt.Errorf("list escalated runs: %w", err)
		}
		for _, run := range runs {
			seen[run.ID] = true
			if run.EscalationID == "" || w.waiting(run, now) {
				continue
			}
			_, decided, err := w.cfg.Decisions.Decision(ctx, run.EscalationID)
			if err != nil {
				if errors.Is(err, escalate.ErrNotFound) {
					w.fail(ctx, run, fmt.Errorf("run %q waits on escalation %q, which the queue does not have", run.ID, run.EscalationID))
					continue
				}
				return nil, fmt.Errorf("decision on escalation %q of run %q: %w", run.EscalationID, run.ID, err)
			}
			if decided {
				out = append(out, run)
			}
		}
		if len(runs) < page {
			w.forgetExcept(seen)
			return out, nil
		}
	}
}

// forgetExcept drops the back-off state of runs that are no longer escalated.
func (w *Worker) forgetExcept(seen map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.retry {
		if !seen[id] {
			delete(w.retry, id)
		}
	}
}

// waiting reports whether run is backing off after a failed resume of the same escalation.
func (w *Worker) waiting(run checkpoint.RunInfo, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.retry[run.ID]
	if !ok {
		return false
	}
	if st.escalation != run.EscalationID {
		delete(w.retry, run.ID)
		return false
	}
	return now.Before(st.next)
}

func (w *Worker) resume(ctx context.Context, run checkpoint.RunInfo) {
	fn, ok := w.cfg.Registry[run.Workflow]
	if !ok || fn == nil {
		name := run.Workflow
		if name == "" {
			name = "(none recorded)"
		}
		w.fail(ctx, run, fmt.Errorf("run %q: workflow %s is not registered with the resume worker", run.ID, name))
		return
	}
	err := fn(ctx, run)
	switch {
	case err == nil:
		w.log.InfoContext(ctx, "resume worker: run completed", "run", run.ID, "workflow", run.Workflow)
	case errors.Is(err, checkpoint.ErrEscalated):
		w.log.InfoContext(ctx, "resume worker: run escalated again", "run", run.ID, "err", err)
	case errors.Is(err, checkpoint.ErrRejected):
		w.log.InfoContext(ctx, "resume worker: run rejected by its reviewer", "run", run.ID, "err", err)
	case errors.Is(err, checkpoint.ErrLeaseHeld):
		// Another worker is on it.
	case ctx.Err() != nil:
		return
	default:
		// The run failed (its status then says so, and it is not listed again), or it could not
		// be resumed (a store error, an input that no longer decodes): back off, not a loop.
		w.fail(ctx, run, err)
	}
	if w.cfg.OnResume != nil {
		w.cfg.OnResume(run, err)
	}
	if err == nil || errors.Is(err, checkpoint.ErrEscalated) || errors.Is(err, checkpoint.ErrRejected) {
		w.mu.Lock()
		delete(w.retry, run.ID)
		w.mu.Unlock()
	}
}

// fail backs off from run: the next try waits Interval, doubling per failure up to MaxBackoff.
// The first failure for an escalation is logged as a warning, the repeats at debug level.
func (w *Worker) fail(ctx context.Context, run checkpoint.RunInfo, err error) {
	w.mu.Lock()
	st := w.retry[run.ID]
	if st.escalation != run.EscalationID {
		st = retryState{escalation: run.EscalationID}
	}
	st.failures++
	wait := w.cfg.Interval << min(st.failures-1, 20)
	if wait <= 0 || wait > w.cfg.MaxBackoff {
		wait = w.cfg.MaxBackoff
	}
	st.next = time.Now().Add(wait)
	first := !st.logged
	st.logged = true
	w.retry[run.ID] = st
	w.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelWarn
	}
	w.log.Log(ctx, level, "resume worker: run did not complete", "run", run.ID, "workflow", run.Workflow,
		"escalation", run.EscalationID, "retry_in_if_still_waiting", wait, "err", err)
}
