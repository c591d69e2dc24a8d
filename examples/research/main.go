// Research is a research pipeline that survives its model: an outline, three sections and a
// summary written by an LLM, then publication, which is irreversible and waits for a person.
//
// It runs against the fault-injecting fake LLM (package fakellm), whose script rate-limits the
// outline and overloads the primary model while the sections are written: the retries honour
// the server's delay, the primary's breaker opens and a smaller model answers, marked degraded.
// The run then stops at publish; a reviewer (played here by the program) approves, and the same
// run resumes from its journal: nothing written before is asked for again.
//
//	go run ./examples/research
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/breaker"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/store/sqlite"
)

// faults rate-limits the outline twice and overloads the primary model for two sections.
const faults = `
error 429 retry-after-ms=400 contains="[outline]" times=2
error 529 model=research-large contains="[section_2]"
error 529 model=research-large contains="[section_3]"
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "research:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "rebound-research-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fake, err := fakellm.New(faults, fakellm.Options{})
	if err != nil {
		return err
	}
	srv := fakellm.Serve(fake)
	defer srv.Close()

	store, err := sqlite.Open(ctx, filepath.Join(dir, "research.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	queue := escalate.NewQueue(store, escalate.Config{})

	// One client, two models: each retried and guarded by its own breaker, the second answering
	// when the first cannot. Short settings keep the example quick.
	client := anthropic.NewClient(option.WithBaseURL(srv.AnthropicBaseURL), option.WithAPIKey("fake"))
	breakers, err := breaker.NewSet(breaker.SetConfig{Settings: breaker.Settings{ConsecutiveFailures: 3}})
	if err != nil {
		return err
	}
	cfg := llm.Config{
		Retry:          retry.Policy{MaxAttempts: 4, Base: 100 * time.Millisecond, Cap: 2 * time.Second},
		Breakers:       breakers,
		AttemptTimeout: 5 * time.Second,
	}
	large, err := llm.Resilient(anthropicllm.New(client, "research-large"), cfg)
	if err != nil {
		return err
	}
	small, err := llm.Resilient(anthropicllm.New(client, "research-small"), cfg)
	if err != nil {
		return err
	}
	model := llm.Fallback(large, small)

	log := &recoveries{w: w}
	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue, Hook: log.hook})
	topic := "Why tide pools are hard places to live"
	reportPath := filepath.Join(dir, "report.md")
	workflow := func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("Research topic: "+topic)); err != nil {
			return err
		}
		var parts []string
		for _, name := range []string{"outline", "section_1", "section_2", "section_3", "summary"} {
			text, err := checkpoint.Step(ctx, run, name, func(ctx context.Context) (string, error) {
				if err := run.Append(ctx, rebound.User("["+name+"] Write the "+name+" of the report.")); err != nil {
					return "", err
				}
				resp, err := model.Generate(ctx, llm.Request{Messages: run.Messages(), MaxTokens: 400})
				if err != nil {
					return "", err // classified; a give-up escalates the run
				}
				return resp.Text, run.Append(ctx, resp.Message()) // marked degraded when a fallback answered
			})
			if err != nil {
				return err
			}
			parts = append(parts, text)
		}
		_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			return reportPath, os.WriteFile(reportPath, []byte(strings.Join(parts, "\n\n")), 0o644)
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}

	fmt.Fprintf(w, "Research pipeline on %q\n", topic)
	err = runner.Run(ctx, "report-001", workflow)
	var esc *checkpoint.EscalatedError
	if !errors.As(err, &esc) {
		return fmt.Errorf("want the run to wait for approval at publish, got %v", err)
	}
	fmt.Fprintf(w, "  %s waits for a person: %s (escalation %s)\n", esc.Step, esc.Reason, esc.EscalationID)

	// A reviewer approves; the run resumes from its journal.
	if _, err := queue.Resolve(ctx, esc.EscalationID, rebound.Decision{Action: rebound.ActionApprove, By: "reviewer", Note: "publish it"}); err != nil {
		return err
	}
	fmt.Fprintln(w, "  approved by reviewer; resuming")
	if err := runner.Run(ctx, "report-001", workflow); err != nil {
		return err
	}
	v, err := checkpoint.Get(ctx, store, "report-001")
	if err != nil {
		return err
	}
	once := 0
	for _, st := range v.Steps {
		if st.Executions == 1 {
			once++
		}
	}
	degraded := 0
	for _, m := range v.Messages {
		if m.Degraded {
			degraded++
		}
	}
	fmt.Fprintf(w, "Completed: %d steps, %d of them executed exactly once; %d answers degraded (from the fallback model); report written (%d bytes)\n",
		len(v.Steps), once, degraded, fileSize(reportPath))
	log.print()
	return nil
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// recoveries collects what went wrong in each step and how it recovered.
type recoveries struct {
	w       io.Writer
	mu      sync.Mutex
	steps   []string
	notes   map[string][]string
	skipped int
}

func (r *recoveries) hook(_ context.Context, e rebound.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notes == nil {
		r.notes = map[string][]string{}
	}
	note := ""
	switch e.Kind {
	case rebound.RetryScheduled:
		note = fmt.Sprintf("%s on %s, retried", e.Class, e.Model)
	case rebound.BreakerChanged:
		note = fmt.Sprintf("breaker %s %s → %s", e.Model, e.From, e.To)
	case rebound.FallbackUsed:
		note = fmt.Sprintf("answered by %s instead of %s (degraded)", e.To, e.From)
	case rebound.StepSkipped:
		r.skipped++
	case rebound.Escalated:
		note = "escalated: " + e.Reason
	}
	if note == "" {
		return
	}
	if _, ok := r.notes[e.Step]; !ok {
		r.steps = append(r.steps, e.Step)
	}
	r.notes[e.Step] = append(r.notes[e.Step], note)
}

func (r *recoveries) print() {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.w, "What recovered:")
	for _, s := range r.steps {
		fmt.Fprintf(r.w, "  %-10s %s\n", s, strings.Join(counted(r.notes[s]), "; "))
	}
	fmt.Fprintf(r.w, "  on resume, %d finished steps were skipped, not run again\n", r.skipped)
}

// counted folds repeated notes: "a", "a", "b" becomes "a (2×)", "b".
func counted(notes []string) []string {
	var out []string
	for i := 0; i < len(notes); {
		j := i
		for j < len(notes) && notes[j] == notes[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s (%d×)", notes[i], j-i))
		} else {
			out = append(out, notes[i])
		}
		i = j
	}
	return out
}
