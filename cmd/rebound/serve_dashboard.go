package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/dashboard"
)

// dashboardServe is the dashboard's part of `rebound serve`: its flags (--worker,
// --worker-interval), the handler, and the resume worker that runs beside the server. serve.go
// holds one in serveCmd and calls register, handler and start.
type dashboardServe struct {
	worker   bool
	interval time.Duration
	// trust are the base URLs (--trust-base-url) the worker sends the environment's API keys to
	// besides the providers' own.
	trust []string
	fs    *pflag.FlagSet // serve's flags, to tell a given --worker-interval 0 from none

	once sync.Once
	log  *dashboard.BreakerLog
}

// register adds the dashboard's flags to serve's.
func (d *dashboardServe) register(fs *pflag.FlagSet) {
	d.fs = fs
	fs.BoolVar(&d.worker, "worker", false,
		"also resume runs whose escalations were resolved (in the dashboard, the API or 'rebound escalations resolve')")
	fs.DurationVar(&d.interval, "worker-interval", 2*time.Second, "how often the --worker looks for resolved escalations")
	fs.StringArrayVar(&d.trust, "trust-base-url", nil,
		"a base URL the --worker may send ANTHROPIC_API_KEY or OPENAI_API_KEY to when a run recorded it (repeatable; runs recording any other get no key)")
}

// check refuses flags that cannot work, before serve opens anything.
func (d *dashboardServe) check() error {
	given := d.fs != nil && d.fs.Changed("worker-interval")
	if d.interval < 0 || (given && d.interval == 0) {
		return usagef("--worker-interval %s: want a positive duration, e.g. 2s", d.interval)
	}
	for _, u := range d.trust {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return usagef("--trust-base-url %q: want an http:// or https:// URL", u)
		}
	}
	return nil
}

// breakers is the log of the breakers of the runs this process resumes, shared by the
// breakers page and the worker.
func (d *dashboardServe) breakers() *dashboard.BreakerLog {
	d.once.Do(func() { d.log = dashboard.NewBreakerLog(0) })
	return d.log
}

// handler is the whole of what serve answers: the dashboard, its JSON API, /metrics (behind
// the token) and /healthz (open).
func (d *dashboardServe) handler(deps serveDeps) (http.Handler, error) {
	return dashboard.New(dashboard.Config{
		Escalations: deps.stores.queue,
		Runs:        deps.stores.runs,
		Breakers:    d.breakers(),
		Token:       deps.Token,
		Metrics:     deps.metricsHandler,
		Healthz:     deps.healthz,
		Logger:      deps.logger,
	})
}

// start starts the resume worker under --worker and returns the function that stops it and
// waits for the runs it is resuming (they see their context end and stay resumable).
func (d *dashboardServe) start(ctx context.Context, g *globals, deps serveDeps) (stop func(), err error) {
	if !d.worker {
		return func() {}, nil
	}
	var hooks []rebound.Hook
	hooks = append(hooks, d.breakers().Hook)
	var observeWrite func(time.Duration)
	if deps.metrics != nil {
		hooks = append(hooks, deps.metrics.Hook())
		observeWrite = deps.metrics.ObserveCheckpointWrite
	}
	// observeWrite feeds rebound_checkpoint_write_seconds.
	runner := deps.stores.runner(rebound.Hooks(hooks...), observeWrite)
	w, err := checkpoint.NewWorker(runner, checkpoint.WorkerConfig{
		Workflows: g.resumeWorkflows(append(baseURLTrust{}, d.trust...)),
		Interval:  d.interval,
		Logger:    deps.logger,
		Recover:   true, // a resume cut short by a crash is finished, not left running
	})
	if err != nil {
		return nil, usagef("--worker: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(wctx)
	}()
	fmt.Fprintf(g.human(), "Resuming runs whose escalations are resolved (checking every %s)\n", d.interval)
	return func() { cancel(); <-done }, nil
}

// resumeWorkflows is the workflows `serve --worker` can resume: the demo's research pipeline,
// rebuilt from the input recorded with each run (topic, provider, models, fault script), so a
// run resumes against the providers it started with. Keys come from the environment, as for
// `rebound runs resume`, and go only to the providers' own APIs and the base URLs in trust:
// whoever can start a run must not be able to point the worker's key at a server of theirs.
func (g *globals) resumeWorkflows(trust baseURLTrust) map[string]checkpoint.Workflow {
	return map[string]checkpoint.Workflow{
		researchWorkflow: func(ctx context.Context, run *checkpoint.Run) error {
			var in demoInput
			if err := run.DecodeInput(&in); err != nil {
				return fmt.Errorf("run %q: damaged workflow input: %w", run.ID(), err)
			}
			models, err := g.buildModelsTrusting(ctx, in, trust)
			if err != nil {
				return err
			}
			defer models.close()
			var report string
			return research(in, models, &report)(ctx, run)
		},
	}
}
