package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
	"github.com/rebound-go/rebound/llm"
)

// An answer that stays malformed after its repairs escalates the step (max_retries_exceeded,
// with the last answer and why it was refused) instead of failing the run; a rerun waits on the
// escalation, and a person's answer completes the run.
func TestStructuredExhaustedRepairsEscalate(t *testing.T) {
	ctx := context.Background()
	m, _ := scripted("Here is prose.", "More prose.", "Still prose, sorry.")
	esc := &checkpointtest.Escalator{}
	r := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: esc})
	var got plan
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		var err error
		got, err = checkpoint.Step(ctx, run, "section_2", func(ctx context.Context) (plan, error) {
			v, _, err := llm.Structured(ctx, m, req, llm.StructuredConfig[plan]{})
			return v, err
		})
		return err
	}
	err := r.Run(ctx, "run-1", wf)
	var ee *checkpoint.EscalatedError
	if !errors.As(err, &ee) || ee.Reason != rebound.ReasonMaxRetriesExceeded {
		t.Fatalf("got %v, want a max_retries_exceeded escalation", err)
	}
	ids, items := esc.Items()
	if len(items) != 1 || !strings.Contains(items[0].Context, "Still prose, sorry.") ||
		!strings.Contains(items[0].Context, "no JSON value") {
		t.Fatalf("the escalation should show the last answer and the validation error: %+v", items)
	}
	// A rerun waits on the escalation; it does not fail the same way at once.
	if err := r.Run(ctx, "run-1", wf); !errors.As(err, &ee) || ee.EscalationID != ids[0] {
		t.Fatalf("rerun: got %v, want the same escalation", err)
	}
	esc.Decide(ids[0], rebound.Decision{Action: rebound.ActionRespond, Answer: `{"title": "Tides", "sections": ["a"]}`, By: "ana"})
	if err := r.Run(ctx, "run-1", wf); err != nil {
		t.Fatal(err)
	}
	if got.Title != "Tides" {
		t.Fatalf("step result %+v, want the person's answer", got)
	}
}
