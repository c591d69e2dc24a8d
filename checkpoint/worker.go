package checkpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rebound-go/rebound/retry"
)

// DecidedLister is a Store that answers, in one query, the question the Worker polls with:
// which runs wait on an escalation that has been decided. store/sqlite and store/postgres,
// which keep the run journal and the escalation queue in one database, implement it; every
// one passes the conformance case escalatetest.RunDurable ("DecidedRuns").
type DecidedLister interface {
	// ListDecidedRuns returns the runs in status escalated whose current escalation
	// (RunInfo.EscalationID) is resolved or dismissed, least recently updated first, paged by
	// f.Limit (default DefaultListLimit) and f.Offset; f.Status is ignored. A decision on hold
	// (a supervisor's, until its decided time plus its hold, unless the run has taken it) is
	// not listed until the hold is over.
	ListDecidedRuns(ctx context.Context, f RunFilter) ([]RunInfo, error)
}

// WorkerConfig configures a Worker. Workflows is required.
type WorkerConfig struct {
	// Workflows maps a workflow's name (the name given to WithWorkflow when the run started)
	// to the workflow, which reads its arguments with Run.DecodeInput: the map Runner.Resume
	// takes. A run whose workflow is not in it is left waiting (and logged once).
	Workflows map[string]Workflow
	// Interval is how often the worker looks for decided escalations. Default 2 s.
	Interval time.Duration
	// Concurrency is how many runs resume at once. Default 4.
	Concurrency int
	// MaxBackoff caps the wait before a run whose resume failed (a store error, an input that no
	// longer decodes) is tried again. The waits are package retry's equal jitter over a backoff
	// from Interval, doubling per failure. Default 5 min.
	MaxBackoff time.Duration
	// OnResume, if set, is called after each resume with its outcome (nil: completed; an error
	// matching ErrEscalated: waiting again; ErrRejected: failed by the reviewer's decision).
	// Called on the resuming goroutine, with no lock held.
	OnResume func(run RunInfo, err error)
	// Logger receives a line per resume and per problem. Default slog.Default().
	Logger *slog.Logger
	// Recover also resumes runs that a worker left running when it died (its lease has run
	// out, or its owner is a process of this host that no longer exists), so that a resume cut
	// short by a crash is finished rather than left running for good. Only runs of the
	// registered Workflows are taken; a run whose owner is alive keeps its lease. Default
	// false.
	Recover bool
}

// Worker resumes runs whose escalations were decided: a decision in the dashboard, the API or
// `rebound escalations resolve` finishes the run without anyone typing `rebound runs resume`.
// It asks the store for escalated runs whose escalation has a decision (one query on a
// DecidedLister; on another store, the escalated runs and then the Runner's Escalator, run by
// run) and resumes each with Runner.Resume. Several workers (in several processes) may share
// one store: the run's lease lets one of them resume it and the others skip it. Safe for
// concurrent use.
type Worker struct {
	runner *Runner
	cfg    WorkerConfig
	log    *slog.Logger
	back   retry.Backoff

	// slots holds a token per resume in flight: Concurrency in all, shared by Run and Poll.
	slots chan struct{}

	mu       sync.Mutex
	retry    map[string]retryState // by run ID
	inflight map[string]bool       // the runs this worker is resuming
}

type retryState struct {
	escalation string // the escalation the failure was about; a new one starts afresh
	failures   int
	next       time.Time
	logged     bool
}

// NewWorker returns a worker that resumes runs with r, which must have an Escalator
// (Config.Escalations), or an error naming what is missing or wrong.
func NewWorker(r *Runner, cfg WorkerConfig) (*Worker, error) {
	switch {
	case r == nil:
		return nil, errors.New("checkpoint: NewWorker needs a Runner")
	case r.cfg.Escalations == nil:
		return nil, errors.New("checkpoint: the worker's Runner has no Escalator (Config.Escalations)")
	case cfg.Workflows == nil:
		return nil, errors.New("checkpoint: WorkerConfig.Workflows is required")
	case cfg.Interval < 0 || cfg.Concurrency < 0 || cfg.MaxBackoff < 0:
		return nil, errors.New("checkpoint: WorkerConfig Interval, Concurrency and MaxBackoff must be >= 0")
	}
	cfg.Interval = cmp.Or(cfg.Interval, 2*time.Second)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 4)
	cfg.MaxBackoff = max(cmp.Or(cfg.MaxBackoff, 5*time.Minute), cfg.Interval)
	return &Worker{runner: r, cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()),
		back:  retry.Backoff{Base: cfg.Interval, Factor: 2, Cap: cfg.MaxBackoff},
		slots: make(chan struct{}, cfg.Concurrency),
		retry: make(map[string]retryState), inflight: make(map[string]bool)}, nil
}

// Run polls every Interval until ctx ends, and returns ctx's error. A poll does not wait for
// the resumes it starts: the next poll comes an Interval later whatever they do, so a run left
// by a dead worker, or decided meanwhile, is taken within an Interval of being due (of its
// lease running out, for a dead worker's run) even while this worker resumes long runs; it
// needs a free slot of Concurrency, and a run due while every slot is busy waits for a later
// poll. Resumes in flight when ctx ends see it cancelled (the runs stay resumable) and are
// waited for.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if err := w.dispatch(ctx, &wg); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "resume worker: poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// dispatch starts resuming the due runs that find a free slot, and returns without waiting for
// them (wg counts them); the others wait for the next poll.
func (w *Worker) dispatch(ctx context.Context, wg *sync.WaitGroup) error {
	due, err := w.due(ctx)
	if err != nil {
		return err
	}
	for _, run := range due {
		select {
		case w.slots <- struct{}{}:
		default:
			return nil // every slot is busy
		}
		w.start(ctx, run, wg)
	}
	return nil
}

// Poll looks once for runs whose escalation was decided and resumes them, at most Concurrency
// at a time, returning when they are done. It returns how many it resumed, and an error only
// when the runs could not be listed (a resume's failure goes to the log and OnResume). A run
// this worker is resuming already (under Run) is not resumed twice.
func (w *Worker) Poll(ctx context.Context) (int, error) {
	due, err := w.due(ctx)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	n := 0
	for _, run := range due {
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return 0, ctx.Err()
		}
		if w.start(ctx, run, &wg) {
			n++
		}
	}
	wg.Wait()
	return n, nil
}

// start resumes run on a goroutine counted in wg, with the slot the caller took, which the
// resume gives back; it reports false (and gives the slot back at once) when this worker is
// resuming run already.
func (w *Worker) start(ctx context.Context, run RunInfo, wg *sync.WaitGroup) bool {
	w.mu.Lock()
	busy := w.inflight[run.ID]
	w.inflight[run.ID] = true
	w.mu.Unlock()
	if busy {
		<-w.slots
		return false
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			w.mu.Lock()
			delete(w.inflight, run.ID)
			w.mu.Unlock()
			<-w.slots
		}()
		w.resume(ctx, run)
	}()
	return true
}

// due lists the escalated runs whose escalation has a decision and that are not backing off.
func (w *Worker) due(ctx context.Context) ([]RunInfo, error) {
	var out []RunInfo
	now := time.Now()
	seen := make(map[string]bool)
	const page = 200
	for offset := 0; ; offset += page {
		runs, more, err := w.decided(ctx, RunFilter{Limit: page, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, run := range runs {
			seen[run.ID] = true
			if !w.waiting(run, now) {
				out = append(out, run)
			}
		}
		if !more {
			break
		}
	}
	if w.cfg.Recover {
		abandoned, err := w.abandoned(ctx, now)
		if err != nil {
			return nil, err
		}
		for _, run := range abandoned {
			if !seen[run.ID] {
				seen[run.ID] = true
				if !w.waiting(run, now) {
					out = append(out, run)
				}
			}
		}
	}
	w.forgetExcept(seen)
	return out, nil
}

// abandoned lists the runs of the registered workflows that a dead worker left running.
func (w *Worker) abandoned(ctx context.Context, now time.Time) ([]RunInfo, error) {
	runs, err := w.runner.store.ListRuns(ctx, RunFilter{Status: []Status{StatusRunning}, Limit: 500})
	if err != nil {
		return nil, fmt.Errorf("list running runs: %w", err)
	}
	var out []RunInfo
	for _, run := range runs {
		if wf, ok := w.cfg.Workflows[run.Workflow]; !ok || wf == nil {
			continue
		}
		if run.LeaseExpires.Before(now) || w.runner.ownerDead(run.Owner) {
			out = append(out, run)
		}
	}
	return out, nil
}

// decided is one page of the escalated runs whose escalation has a decision, and whether there
// may be more: the store's own query when it has one; otherwise a page of escalated runs, each
// checked with the Runner's Escalator.
func (w *Worker) decided(ctx context.Context, f RunFilter) (runs []RunInfo, more bool, err error) {
	if dl, ok := w.runner.store.(DecidedLister); ok {
		runs, err := dl.ListDecidedRuns(ctx, f)
		if err != nil {
			return nil, false, fmt.Errorf("list runs whose escalation was decided: %w", err)
		}
		return runs, len(runs) == f.Limit, nil
	}
	f.Status = []Status{StatusEscalated}
	escalated, err := w.runner.store.ListRuns(ctx, f)
	if err != nil {
		return nil, false, fmt.Errorf("list escalated runs: %w", err)
	}
	for _, run := range escalated {
		if run.EscalationID == "" {
			continue
		}
		_, decided, err := w.runner.cfg.Escalations.Decision(ctx, run.EscalationID)
		var h held
		if errors.As(err, &h) {
			continue // a decision on hold: not due until the hold is over
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			w.fail(ctx, run, fmt.Errorf("run %q: decision on escalation %q: %w", run.ID, run.EscalationID, err))
			continue
		}
		if decided {
			runs = append(runs, run)
		}
	}
	return runs, len(escalated) == f.Limit, nil
}

// forgetExcept drops the back-off state of runs that are no longer due and not being resumed.
func (w *Worker) forgetExcept(seen map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.retry {
		if !seen[id] && !w.inflight[id] {
			delete(w.retry, id)
		}
	}
}

// waiting reports whether run is backing off after a failed resume of the same escalation.
func (w *Worker) waiting(run RunInfo, now time.Time) bool {
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

func (w *Worker) resume(ctx context.Context, run RunInfo) {
	if wf, ok := w.cfg.Workflows[run.Workflow]; !ok || wf == nil {
		name := run.Workflow
		if name == "" {
			name = "(none recorded)"
		}
		w.fail(ctx, run, fmt.Errorf("run %q: workflow %s is not registered with the resume worker", run.ID, name))
		return
	}
	err := w.runner.Resume(ctx, run.ID, w.cfg.Workflows)
	switch {
	case err == nil:
		w.log.InfoContext(ctx, "resume worker: run completed", "run", run.ID, "workflow", run.Workflow)
	case errors.Is(err, ErrHeld):
		w.log.DebugContext(ctx, "resume worker: the run's decision is on hold", "run", run.ID, "err", err)
	case errors.Is(err, ErrEscalated):
		w.log.InfoContext(ctx, "resume worker: run escalated again", "run", run.ID, "err", err)
	case errors.Is(err, ErrRejected):
		w.log.InfoContext(ctx, "resume worker: run rejected by its reviewer", "run", run.ID, "err", err)
	case errors.Is(err, ErrLeaseHeld):
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
	if err == nil || errors.Is(err, ErrEscalated) || errors.Is(err, ErrRejected) {
		w.mu.Lock()
		delete(w.retry, run.ID)
		w.mu.Unlock()
	}
}

// fail backs off from run: the next try waits retry.EqualJitter over Interval doubling per
// failure (from [Interval, 2·Interval) after the first), capped at MaxBackoff. The first failure for an
// escalation is logged as a warning, the repeats at debug level.
func (w *Worker) fail(ctx context.Context, run RunInfo, err error) {
	w.mu.Lock()
	st := w.retry[run.ID]
	if st.escalation != run.EscalationID {
		st = retryState{escalation: run.EscalationID}
	}
	st.failures++
	wait := retry.EqualJitter(st.failures, w.back, rand.Float64())
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
