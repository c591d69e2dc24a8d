// Triage is a support-ticket triage: each ticket is classified, then a reply is drafted by an
// LLM. Two recoveries show:
//   - the large model is slow on some tickets: its calls time out (a short attempt timeout), and
//     a smaller model drafts the reply instead, marked degraded;
//   - a ticket the classifier is not sure about is not guessed at: it is escalated with reason
//     low_confidence, a person answers with the category, and the ticket's run resumes.
//
// The classifier is a keyword scorer standing in for a model that returns a label and a
// confidence (the fake LLM cannot judge tickets); the drafting goes to the fake LLM, whose
// script makes the large model slow on tickets about outages.
//
//	go run ./examples/triage
package main

import (
	"context"
	"encoding/json"
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
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/fakellm"
	"github.com/rebound-go/rebound/llm"
	"github.com/rebound-go/rebound/llm/anthropicllm"
	"github.com/rebound-go/rebound/retry"
	"github.com/rebound-go/rebound/store/sqlite"
)

// faults: the large model takes a second on tickets about an outage; its attempts time out.
const faults = `latency 1s model=support-large contains="outage"`

type ticket struct{ id, text string }

var tickets = []ticket{
	{"T-1001", "I was charged twice for my subscription this month, please refund the invoice."},
	{"T-1002", "Your API has been returning errors for an hour, is there an outage? Our app is down."},
	{"T-1003", "How do I reset my password? The reset email never arrives."},
	{"T-1004", "Dashboard outage: nothing loads since 9:00, the status page says all is fine."},
	{"T-1005", "Hello, I have a question about something from last week, can someone call me?"},
	{"T-1006", "Please update the billing address on our invoices to our new office."},
}

// classification is the result of the classify step.
type classification struct {
	Category   string  `json:"category"`
	Confidence float64 `json:"confidence"`
}

const minConfidence = 0.6

var keywords = map[string][]string{
	"billing": {"charged", "refund", "invoice", "billing", "subscription"},
	"outage":  {"outage", "errors", "down", "nothing loads", "status page"},
	"account": {"password", "reset", "login", "email"},
}

// classify scores the ticket by keywords: the share of matches that went to the best category,
// discounted when there are few.
func classify(text string) classification {
	text = strings.ToLower(text)
	best, bestN, total := "", 0, 0
	for _, cat := range []string{"billing", "outage", "account"} {
		n := 0
		for _, k := range keywords[cat] {
			if strings.Contains(text, k) {
				n++
			}
		}
		total += n
		if n > bestN {
			best, bestN = cat, n
		}
	}
	if total == 0 {
		return classification{Category: "unknown", Confidence: 0.2}
	}
	conf := float64(bestN) / float64(total) * min(0.95, 0.45+0.2*float64(bestN))
	return classification{Category: best, Confidence: float64(int(conf*100)) / 100}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "triage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "rebound-triage-")
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
	store, err := sqlite.Open(ctx, filepath.Join(dir, "triage.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	queue := escalate.NewQueue(store, escalate.Config{})

	// The large model gets 300 ms an attempt and two attempts; then the small one answers.
	client := anthropic.NewClient(option.WithBaseURL(srv.AnthropicBaseURL), option.WithAPIKey("fake"))
	large, err := llm.Resilient(anthropicllm.New(client, "support-large"), llm.Config{
		Retry:          retry.Policy{MaxAttempts: 2, Base: 50 * time.Millisecond},
		AttemptTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	small, err := llm.Resilient(anthropicllm.New(client, "support-small"), llm.Config{
		Retry:          retry.Policy{MaxAttempts: 3, Base: 50 * time.Millisecond},
		AttemptTimeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	model := llm.Fallback(large, small)

	timeouts := &timeoutCount{}
	runner := checkpoint.NewRunner(store, checkpoint.Config{Escalations: queue, Hook: timeouts.hook})
	triage := func(t ticket) checkpoint.Workflow {
		return func(ctx context.Context, run *checkpoint.Run) error {
			c, err := checkpoint.Step(ctx, run, "classify", func(ctx context.Context) (classification, error) {
				c := classify(t.text)
				if c.Confidence < minConfidence {
					return c, checkpoint.Escalate(rebound.ReasonLowConfidence,
						fmt.Sprintf("best guess %q at confidence %.2f (below %.2f); answer with the category as JSON, e.g. {\"category\": \"billing\", \"confidence\": 1}",
							c.Category, c.Confidence, minConfidence), nil)
				}
				return c, nil
			})
			if err != nil {
				return err
			}
			_, err = checkpoint.Step(ctx, run, "draft", func(ctx context.Context) (draftResult, error) {
				resp, err := model.Generate(ctx, llm.Request{
					System:    "You are a support agent. Draft a short, kind reply.",
					Messages:  []rebound.Message{rebound.User("Category: " + c.Category + ". Ticket: " + t.text)},
					MaxTokens: 300,
				})
				if err != nil {
					return draftResult{}, err
				}
				return draftResult{Category: c.Category, Confidence: c.Confidence, Text: resp.Text,
					Model: resp.Provenance.Model, Degraded: resp.Provenance.Degraded}, nil
			})
			return err
		}
	}

	fmt.Fprintf(w, "Triage of %d tickets\n", len(tickets))
	var escalated []*checkpoint.EscalatedError
	for _, t := range tickets {
		err := runner.Run(ctx, t.id, triage(t))
		var esc *checkpoint.EscalatedError
		switch {
		case errors.As(err, &esc):
			escalated = append(escalated, esc)
			it, gerr := queue.Get(ctx, esc.EscalationID)
			if gerr != nil {
				return gerr
			}
			fmt.Fprintf(w, "  %s  escalated (%s): %s\n", t.id, esc.Reason, firstClause(it.Context))
		case err != nil:
			return fmt.Errorf("ticket %s: %w", t.id, err)
		default:
			if err := report(ctx, w, store, t.id); err != nil {
				return err
			}
		}
	}

	// A person reads the escalated tickets and answers with the category; the runs resume with
	// that answer as the classify step's result.
	for _, esc := range escalated {
		answer, _ := json.Marshal(classification{Category: "account", Confidence: 1})
		if _, err := queue.Resolve(ctx, esc.EscalationID, rebound.Decision{Action: rebound.ActionRespond,
			Answer: string(answer), By: "dana", Note: "they want a call about their account"}); err != nil {
			return err
		}
		var t ticket
		for _, x := range tickets {
			if x.id == esc.RunID {
				t = x
			}
		}
		fmt.Fprintf(w, "  %s  answered by dana (category account); resuming\n", t.id)
		if err := runner.Run(ctx, t.id, triage(t)); err != nil {
			return fmt.Errorf("ticket %s after the answer: %w", t.id, err)
		}
		if err := report(ctx, w, store, t.id); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "What recovered: %d attempts of support-large timed out, and support-small drafted those replies (marked degraded); %s escalated for low confidence and answered by a person\n",
		timeouts.n, ticketCount(len(escalated)))
	return nil
}

// ticketCount is "1 ticket" or "n tickets".
func ticketCount(n int) string {
	if n == 1 {
		return "1 ticket"
	}
	return fmt.Sprintf("%d tickets", n)
}

// draftResult is the result of the draft step.
type draftResult struct {
	Category   string  `json:"category"`
	Confidence float64 `json:"confidence"`
	Text       string  `json:"text"`
	Model      string  `json:"model"`
	Degraded   bool    `json:"degraded"`
}

// report prints a finished ticket from its journal.
func report(ctx context.Context, w io.Writer, store checkpoint.Store, id string) error {
	v, err := checkpoint.Get(ctx, store, id)
	if err != nil {
		return err
	}
	var d draftResult
	if err := json.Unmarshal(v.Steps[len(v.Steps)-1].Result, &d); err != nil {
		return fmt.Errorf("ticket %s: %w", id, err)
	}
	by := "reply by " + d.Model
	if d.Degraded {
		by += " (degraded: the large model timed out)"
	}
	fmt.Fprintf(w, "  %s  %-8s %.2f  %s\n", id, d.Category, d.Confidence, by)
	return nil
}

func firstClause(s string) string {
	if i := strings.Index(s, ";"); i > 0 {
		return s[:i]
	}
	return s
}

// timeoutCount counts attempts that timed out.
type timeoutCount struct {
	mu sync.Mutex
	n  int
}

func (c *timeoutCount) hook(_ context.Context, e rebound.Event) {
	if e.Kind == rebound.AttemptFailed && e.Class == rebound.ClassTimeout {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}
