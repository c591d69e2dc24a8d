// Documents is a document-processing pipeline: each document is its own durable run (extract
// the fields with an LLM, check them, save them to a database), so a crash loses at most the
// step in flight of the documents in flight, and a rerun of the batch skips what is done.
//
// Against the fake LLM and a flaky database it shows three things:
//
//   - the database goes down for a while: a breaker stops the workers from hammering it, and
//     the save steps wait out the breaker and probe, then all succeed;
//
//   - one document's extraction never comes back as JSON: the answer is repaired (re-asked with
//     the error) twice, then the document is escalated for a person instead of failing the batch;
//
//   - a second pass over the batch, as after a crash, skips every finished document.
//
//     go run ./examples/documents
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
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

// faults: the extraction of doc-06 never comes back as the JSON asked for, not even when asked
// again with the error (the repair's message says the answer "could not be used").
const faults = `
not-json contains="doc-06"
not-json contains="could not be used"
`

var documents = []string{
	"doc-01 Invoice 4411 from Harbour Supplies, 3 crates of rope, total 412.50 EUR, due 2026-12-15.",
	"doc-02 Invoice 4412 from Harbour Supplies, 1 anchor, total 980.00 EUR, due 2026-12-20.",
	"doc-03 Delivery note 88 for Tidewater Cafe, 40 kg of coffee beans.",
	"doc-04 Contract renewal for berth 12, twelve months from January, 14,400 EUR.",
	"doc-05 Invoice 4413 from North Sails, sail repair, total 1,250.00 EUR, due 2027-01-05.",
	"doc-06 (scan, partly illegible) ... nvoice 44?? ... tot... 2?0.00 ...",
	"doc-07 Credit note 17 from Harbour Supplies, returned rope, 137.50 EUR.",
	"doc-08 Invoice 4414 from Lighthouse Electrics, wiring, total 310.00 EUR, due 2026-12-30.",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "documents:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "rebound-documents-")
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
	store, err := sqlite.Open(ctx, filepath.Join(dir, "documents.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	queue := escalate.NewQueue(store, escalate.Config{})

	client := anthropic.NewClient(option.WithBaseURL(srv.AnthropicBaseURL), option.WithAPIKey("fake"))
	model, err := llm.Resilient(anthropicllm.New(client, "extract-model"), llm.Config{
		Retry:          retry.Policy{MaxAttempts: 3, Base: 100 * time.Millisecond},
		AttemptTimeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}

	// The database is down for writes 3 to 8. Its breaker opens after 3 failures in a row and
	// lets one probe through at a time; a save that finds it open waits until it may probe.
	db := &flakyDB{rows: map[string]map[string]any{}, failFrom: 3, failTo: 8}
	dbStats := &breakerStats{}
	dbBreaker, err := breaker.New(breaker.Settings{
		Name: "db/records", ConsecutiveFailures: 3, OpenFor: 200 * time.Millisecond, MaxOpen: time.Second,
		SuccessesToClose: 1, Hook: dbStats.hook,
	})
	if err != nil {
		return err
	}
	savePolicy := retry.Policy{MaxAttempts: 12, Base: 50 * time.Millisecond, Cap: 2 * time.Second}

	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue})
	process := func(ctx context.Context, doc string) error {
		id := doc[:6]
		return runner.Run(ctx, id, func(ctx context.Context, run *checkpoint.Run) error {
			fields, err := checkpoint.Step(ctx, run, "extract", func(ctx context.Context) (map[string]any, error) {
				f, _, err := llm.Structured(ctx, model, llm.Request{
					Messages:  []rebound.Message{rebound.User("Extract the fields of this document as JSON: " + doc)},
					MaxTokens: 300,
				}, llm.StructuredConfig[map[string]any]{Validate: func(m map[string]any) error {
					if len(m) == 0 {
						return errors.New("no fields extracted")
					}
					return nil
				}})
				if c, _ := rebound.Classify(err); c == rebound.ClassMalformed {
					// Repaired and still wrong: a person reads this one.
					return nil, checkpoint.Escalate("validation_failed",
						"the extraction failed validation after every repair; the scan may be illegible", err)
				}
				return f, err
			})
			if err != nil {
				return err
			}
			_, err = checkpoint.Step(ctx, run, "save", func(ctx context.Context) (bool, error) {
				// Failed writes are retried with backoff; while the breaker is open the save waits
				// until it may probe instead of calling a database that is down.
				return retry.Do(ctx, savePolicy, func(ctx context.Context) (bool, error) {
					for {
						_, err := breaker.Do(ctx, dbBreaker, func(ctx context.Context) (struct{}, error) {
							return struct{}{}, db.Insert(ctx, id, fields)
						})
						// A refusal (*breaker.OpenError) or the failure that opened the breaker
						// (*breaker.OpenedError): wait until it admits a probe, then try again.
						var open *breaker.OpenError
						var opened *breaker.OpenedError
						var until time.Time
						switch {
						case errors.As(err, &open):
							dbStats.refused.Add(1)
							until = open.Until
						case errors.As(err, &opened):
							until = opened.Until
						default:
							return err == nil, err
						}
						select {
						case <-ctx.Done():
							return false, ctx.Err()
						case <-time.After(max(time.Until(until), 20*time.Millisecond)):
						}
					}
				})
			})
			return err
		})
	}

	fmt.Fprintf(w, "Processing %d documents with 3 workers\n", len(documents))
	outcomes := processAll(ctx, documents, process)
	for _, o := range outcomes {
		fmt.Fprintf(w, "  %s  %s\n", o.id, o.text)
	}
	fmt.Fprintf(w, "Database: %d writes failed during its outage; the breaker opened %d times and refused %d calls; %d documents saved\n",
		db.failed.Load(), dbStats.opened.Load(), dbStats.refused.Load(), db.count())

	items, err := queue.List(ctx, escalate.Filter{Status: []escalate.Status{escalate.StatusOpen}})
	if err != nil {
		return err
	}
	for _, it := range items {
		fmt.Fprintf(w, "Escalated for a person: %s at %s (%s): %s\n", it.RunID, it.Step, it.Reason, it.Context)
	}

	fmt.Fprintln(w, "Second pass over the batch, as after a crash:")
	skipped := 0
	for _, doc := range documents {
		v, err := checkpoint.Get(ctx, store, doc[:6])
		if err == nil && v.Status == checkpoint.StatusCompleted {
			skipped++
		}
	}
	again := processAll(ctx, documents, process)
	waiting := 0
	for _, o := range again {
		if o.escalated {
			waiting++
		}
	}
	fmt.Fprintf(w, "  %d documents already done (their steps skipped, nothing saved twice: %d rows), %d still waiting for a person\n",
		skipped, db.count(), waiting)
	return nil
}

type outcome struct {
	id, text  string
	escalated bool
}

// processAll runs process for every document on 3 workers and returns the outcomes by ID.
func processAll(ctx context.Context, docs []string, process func(context.Context, string) error) []outcome {
	var mu sync.Mutex
	var out []outcome
	work := make(chan string)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for doc := range work {
				err := process(ctx, doc)
				o := outcome{id: doc[:6], text: "saved"}
				var esc *checkpoint.EscalatedError
				switch {
				case errors.As(err, &esc):
					o.text, o.escalated = "escalated ("+string(esc.Reason)+"), escalation "+esc.EscalationID, true
				case err != nil:
					o.text = "failed: " + err.Error()
				}
				mu.Lock()
				out = append(out, o)
				mu.Unlock()
			}
		})
	}
	for _, d := range docs {
		work <- d
	}
	close(work)
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// flakyDB is a stand-in for the records database: writes number failFrom to failTo fail as a
// database that is down does (a transient error).
type flakyDB struct {
	mu               sync.Mutex
	rows             map[string]map[string]any
	writes           int
	failFrom, failTo int
	failed           atomic.Int64
}

func (db *flakyDB) Insert(ctx context.Context, id string, fields map[string]any) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.writes++
	if db.writes >= db.failFrom && db.writes <= db.failTo {
		db.failed.Add(1)
		return rebound.Transient(fmt.Errorf("insert %s: connection refused", id))
	}
	db.rows[id] = fields
	return nil
}

func (db *flakyDB) count() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.rows)
}

// breakerStats counts the breaker's openings and refusals.
type breakerStats struct {
	opened, refused atomic.Int64
}

func (s *breakerStats) hook(_ context.Context, e rebound.Event) {
	if e.Kind == rebound.BreakerChanged && e.To == "open" {
		s.opened.Add(1)
	}
}
