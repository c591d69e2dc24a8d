package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rebound-go/rebound"
)

// Config configures a Runner. The zero value works.
type Config struct {
	// Escalations receives what a step cannot resolve. Nil: an escalation is an error that fails
	// the run.
	Escalations Escalator
	// Owner names this worker in leases. Default "<hostname>/<pid>", which lets a run whose owner
	// process on this host has died be taken over at once. Set it (to something unique, without
	// the "<host>/<pid>" form) where workers share a hostname but not a process namespace
	// (containers on the host's network): a live worker there would look dead to the others and
	// lose its runs to them (fencing still refuses its writes, but a step it was running may run
	// twice).
	Owner string
	// LeaseTTL is how long a lease lasts without renewal. Default 30 s.
	LeaseTTL time.Duration
	// Heartbeat is how often the lease is renewed while a run executes. Default LeaseTTL/3.
	Heartbeat time.Duration
	// LeaseMargin is how much of the lease must be left, by this worker's own clock, for an
	// Irreversible step to start or an escalation to be filed without renewing the lease first
	// (a worker paused past its lease, then continued, is refused: see "Leases" in the package
	// doc). It covers clocks that disagree between workers. Default LeaseTTL/5; at most
	// LeaseTTL/2.
	LeaseMargin time.Duration
	// Hook receives the run and step events (RunStarted, RunResumed, StepStarted, StepSkipped,
	// StepCompleted, Escalated, RunCompleted, RunFailed) and the attempt events emitted inside
	// steps. Called on the goroutine of the workflow (or of the producer inside a step), with no
	// lock held. The attempt events of retries, breakers and fallbacks inside a step reach it
	// through the step's rebound.Scope, so those producers need no hook of their own: giving them
	// this same hook as well would deliver their events twice.
	Hook rebound.Hook
	// ObserveWrite, if set, receives the duration of each durable write (for the
	// rebound_checkpoint_write_seconds histogram). Called on the writing goroutine.
	ObserveWrite func(time.Duration)
	// EscalateOn decides which step failures escalate with reason max_retries_exceeded.
	// Default: any automatic give-up, errors.Is(err, rebound.ErrGaveUp) or
	// errors.Is(err, rebound.ErrCircuitOpen). Other failures fail the run. A step can always
	// escalate explicitly by returning Escalate(...).
	EscalateOn func(class rebound.Class, err error) bool
	// Redact, if set, is applied to every error text before it is journaled: a step's error, an
	// attempt's error, the run's error. Default: the redaction of Escalations when it offers one
	// (a RedactText(string) string method, as escalate.Queue has: the rules its items get), else
	// none. Messages and the workflow input are journaled as they are, since a resumed run needs
	// them; errors returned to the caller are not changed.
	Redact func(string) string
}

// textRedactor is what an Escalator offers when it can redact text (escalate.Queue).
type textRedactor interface{ RedactText(s string) string }

// Runner executes workflows as durable runs on a Store. It is safe for concurrent use; each
// Run call holds the lease of its run.
type Runner struct {
	store Store
	cfg   Config
	host  string
}

// NewRunner returns a Runner journaling to store. Defaults are filled in from cfg.
func NewRunner(store Store, cfg Config) *Runner {
	host, _ := os.Hostname()
	if cfg.Owner == "" {
		cfg.Owner = host + "/" + strconv.Itoa(os.Getpid())
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Heartbeat <= 0 || cfg.Heartbeat >= cfg.LeaseTTL {
		cfg.Heartbeat = cfg.LeaseTTL / 3
	}
	if cfg.LeaseMargin <= 0 {
		cfg.LeaseMargin = cfg.LeaseTTL / 5
	}
	cfg.LeaseMargin = min(cfg.LeaseMargin, cfg.LeaseTTL/2)
	if cfg.EscalateOn == nil {
		cfg.EscalateOn = defaultEscalateOn
	}
	if cfg.Redact == nil {
		if tr, ok := cfg.Escalations.(textRedactor); ok {
			cfg.Redact = tr.RedactText
		}
	}
	return &Runner{store: store, cfg: cfg, host: host}
}

// Owner returns the owner ID this runner writes into leases.
func (r *Runner) Owner() string { return r.cfg.Owner }

// Workflow is the code of a durable run: it calls Step for each piece of work, and Append for
// messages. It must be deterministic in the sequence of steps it calls (the same steps, in the
// same order, given the same recorded results), so that a resumed run lines up with its journal.
type Workflow func(ctx context.Context, run *Run) error

// RunOption configures one Run call.
type RunOption func(*runOptions)

type runOptions struct {
	workflow string
	input    any
	hasInput bool
}

// WithWorkflow records, when the run is created, the workflow's name and its input (encoded as
// JSON), so that a resumer (`rebound runs resume`, the resume Worker) can find which workflow to
// run and with which arguments (see RunInfo.Workflow and Input, and Run.DecodeInput).
func WithWorkflow(name string, input any) RunOption {
	return func(o *runOptions) { o.workflow, o.input, o.hasInput = name, input, true }
}

// Run executes wf as the run runID: a new run starts, an existing one resumes (completed steps
// return their recorded results without running). It returns nil when the workflow completes;
// a *EscalatedError (errors.Is ErrEscalated) when the run waits for a person; a *LeaseHeldError
// (ErrLeaseHeld) when another live worker holds the run; a *WorkflowChangedError when the steps
// differ from the journal; a *CorruptError for a damaged record; a *StaleEpochError when the run
// was taken over meanwhile; otherwise the workflow's failure.
func (r *Runner) Run(ctx context.Context, runID string, wf Workflow, opts ...RunOption) error {
	if runID == "" {
		return errors.New("checkpoint: empty run ID")
	}
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	req := ClaimRequest{RunID: runID, Owner: r.cfg.Owner, TTL: r.cfg.LeaseTTL, Workflow: o.workflow}
	if o.hasInput {
		b, err := json.Marshal(o.input)
		if err != nil {
			return fmt.Errorf("run %q: encode workflow input: %w", runID, err)
		}
		req.Input = b
	}
	sent := time.Now()
	claimed, dead, err := r.claim(ctx, req)
	if err != nil {
		return err
	}
	run, err := newRun(r, claimed, sent, dead)
	if err != nil {
		_ = r.store.WriteRun(context.WithoutCancel(ctx), claimed.Lease, Write{Release: true})
		return err
	}
	if claimed.Created {
		r.emit(ctx, rebound.Event{Kind: rebound.RunStarted, RunID: runID, Status: string(StatusRunning)})
	} else {
		r.emit(ctx, rebound.Event{Kind: rebound.RunResumed, RunID: runID, Status: string(claimed.Run.Status)})
	}

	wctx, cancel := context.WithCancelCause(ctx)
	hbDone := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(hbDone)
		r.heartbeat(wctx, run, stop, cancel)
	}()
	werr := func() error {
		// Stop the heartbeat even if the workflow panics: its lease then expires.
		defer func() { close(stop); <-hbDone }()
		return wf(wctx, run)
	}()
	lost := context.Cause(wctx)
	cancel(nil)
	if werr == nil {
		if halt := run.halted(); halt != nil {
			werr = halt // the workflow swallowed a step's stopping error
		} else {
			werr = run.checkUnvisited()
		}
	}
	return r.finish(ctx, run, werr, lost)
}

// Resume runs the existing run runID with the workflow recorded for it (see WithWorkflow),
// looked up by name in workflows; the workflow reads its arguments with Run.DecodeInput. It is
// what `rebound runs resume` and the resume Worker call. A run that does not exist is an error
// matching ErrRunNotFound; one whose workflow is not in workflows is an error naming it.
func (r *Runner) Resume(ctx context.Context, runID string, workflows map[string]Workflow) error {
	info, err := r.store.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	wf, ok := workflows[info.Workflow]
	if !ok {
		return fmt.Errorf("resume run %q: no workflow named %q", runID, info.Workflow)
	}
	return r.Run(ctx, runID, wf)
}

// claim takes the run's lease; dead reports that it was taken over from a dead owner.
func (r *Runner) claim(ctx context.Context, req ClaimRequest) (c *Claimed, dead bool, err error) {
	c, err = r.store.ClaimRun(ctx, req)
	var held *LeaseHeldError
	if errors.As(err, &held) && !held.Locked && r.ownerDead(held.Owner) {
		// The owner is a process on this host that no longer exists: take over at once.
		req.TakeOver = &Lease{RunID: req.RunID, Owner: held.Owner}
		c, err = r.store.ClaimRun(ctx, req)
		dead = true
	}
	if err != nil {
		if errors.Is(err, ErrLeaseHeld) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("claim run %q: %w", req.RunID, err)
	}
	return c, dead, nil
}

// ownerDead reports whether owner names a process on this host ("host/pid") that does not exist.
func (r *Runner) ownerDead(owner string) bool {
	host, pid, ok := parseOwner(owner)
	if !ok || host != r.host || pid == os.Getpid() {
		return false
	}
	return !processAlive(pid)
}

func parseOwner(owner string) (host string, pid int, ok bool) {
	for i := len(owner) - 1; i >= 0; i-- {
		if owner[i] == '/' {
			p, err := strconv.Atoi(owner[i+1:])
			if err != nil || p <= 0 {
				return "", 0, false
			}
			return owner[:i], p, true
		}
	}
	return "", 0, false
}

func (r *Runner) heartbeat(ctx context.Context, run *Run, stop <-chan struct{}, cancel context.CancelCauseFunc) {
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lease := run.currentLease()
		sent := time.Now()
		nl, err := r.store.RenewRun(ctx, lease, r.cfg.LeaseTTL)
		switch {
		case err == nil:
			run.setLease(nl, sent)
		case errors.Is(err, ErrStaleEpoch):
			cancel(err)
			return
		case time.Now().After(lease.Expires):
			cancel(fmt.Errorf("run %q: %w: %v", lease.RunID, ErrLeaseLost, err))
			return
		}
	}
}

// finish records the run's outcome and releases the lease.
func (r *Runner) finish(ctx context.Context, run *Run, werr, lost error) error {
	wctx := context.WithoutCancel(ctx)
	if lost != nil && (errors.Is(lost, ErrStaleEpoch) || errors.Is(lost, ErrLeaseLost)) {
		r.emit(ctx, rebound.Event{Kind: rebound.RunFailed, RunID: run.id, Err: lost})
		return lost
	}
	if errors.Is(werr, ErrStaleEpoch) || errors.Is(werr, ErrLeaseLost) {
		r.emit(ctx, rebound.Event{Kind: rebound.RunFailed, RunID: run.id, Err: werr})
		return werr
	}
	up := run.summary()
	var esc *EscalatedError
	switch {
	case werr == nil:
		up.Status = StatusCompleted
		up.Error = ""
		up.EscalationID = ""
	case errors.As(werr, &esc):
		up.Status = StatusEscalated
		up.EscalationID = esc.EscalationID
		up.Error = r.errText(werr)
	case ctx.Err() != nil:
		up.Status = StatusCanceled
		up.Error = r.errText(werr)
	default:
		up.Status = StatusFailed
		up.Error = r.errText(werr)
	}
	if err := run.write(wctx, Write{Run: &up, Release: true}); err != nil {
		if werr == nil {
			werr = err
		} else {
			werr = errors.Join(werr, err)
		}
		r.emit(ctx, rebound.Event{Kind: rebound.RunFailed, RunID: run.id, Err: werr})
		return werr
	}
	switch up.Status {
	case StatusCompleted:
		r.emit(ctx, rebound.Event{Kind: rebound.RunCompleted, RunID: run.id, Status: string(up.Status)})
	case StatusEscalated:
		// The Escalated event was emitted by the step.
	default:
		c, _ := rebound.Classify(werr)
		r.emit(ctx, rebound.Event{Kind: rebound.RunFailed, RunID: run.id, Status: string(up.Status), Class: c, Err: werr})
	}
	return werr
}

// errText is err's text as the journal keeps it (see Config.Redact).
func (r *Runner) errText(err error) string {
	if r.cfg.Redact == nil {
		return err.Error()
	}
	return r.cfg.Redact(err.Error())
}

func (r *Runner) emit(ctx context.Context, e rebound.Event) {
	if r.cfg.Hook == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.cfg.Hook(ctx, e)
}
