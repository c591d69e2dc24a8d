package checkpoint_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/checkpoint/checkpointtest"
)

type note struct{ Text, By string }

func (n *note) UnmarshalAnswer(text string) error {
	*n = note{Text: text, By: "person"}
	return nil
}

// A person's answer becomes the step's result: text for a text result (an AnswerUnmarshaler),
// JSON for a JSON one. One that cannot (it got past the queue) does not fail the run: the step
// asks again. The escalation says which answer the step takes.
func TestRespondAnswers(t *testing.T) {
	ctx := context.Background()
	esc := &checkpointtest.Escalator{}
	r := checkpoint.NewRunner(checkpoint.NewMemoryStore(), checkpoint.Config{Escalations: esc})
	var n note
	var counts map[string]int
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		var err error
		if n, err = checkpoint.Step(ctx, run, "note", func(ctx context.Context) (note, error) {
			return note{}, checkpoint.Escalate(rebound.ReasonRequiresHuman, "", nil)
		}); err != nil {
			return err
		}
		counts, err = checkpoint.Step(ctx, run, "counts", func(ctx context.Context) (map[string]int, error) {
			return nil, checkpoint.Escalate(rebound.ReasonRequiresHuman, "", nil)
		})
		return err
	}
	var ee *checkpoint.EscalatedError
	if err := r.Run(ctx, "a", wf); !errors.As(err, &ee) {
		t.Fatal(err)
	}
	esc.Decide(ee.EscalationID, rebound.Decision{Action: rebound.ActionRespond, Answer: "HUMAN-ANSWER-42", By: "ana"})
	if err := r.Run(ctx, "a", wf); !errors.As(err, &ee) || n.Text != "HUMAN-ANSWER-42" {
		t.Fatalf("after a text answer: %v, note %+v", err, n)
	}
	_, items := esc.Items()
	if !strings.Contains(string(items[0].State), `"answer":{"kind":"text"}`) ||
		!strings.Contains(string(items[1].State), `"answer":{"kind":"json","type":"object"`) {
		t.Fatalf("the escalations' states should say which answer the step takes: %s / %s", items[0].State, items[1].State)
	}
	// Not JSON for a JSON result: asked again, the run does not fail.
	esc.Decide(ee.EscalationID, rebound.Decision{Action: rebound.ActionRespond, Answer: "lots", By: "ana"})
	err := r.Run(ctx, "a", wf)
	var again *checkpoint.EscalatedError
	if !errors.As(err, &again) || again.EscalationID == ee.EscalationID {
		t.Fatalf("an unusable answer: got %v, want a new escalation of the step", err)
	}
	if _, items := esc.Items(); !strings.Contains(items[len(items)-1].Context, "could not become the step's result") {
		t.Fatalf("the new escalation should say why: %q", items[len(items)-1].Context)
	}
	esc.Decide(again.EscalationID, rebound.Decision{Action: rebound.ActionRespond, Answer: `{"a": 2}`, By: "ana"})
	if err := r.Run(ctx, "a", wf); err != nil || counts["a"] != 2 {
		t.Fatalf("after a JSON answer: %v, %v", err, counts)
	}
}
