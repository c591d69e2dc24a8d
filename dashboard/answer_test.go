package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
)

type verdict struct {
	Score int    `json:"score"`
	Note  string `json:"note"`
}

// An answer that cannot become the step's result (text for a step whose result is a JSON
// object) is refused when it is given, through the API (400) and the form (the page says why),
// and the item stays open; a usable answer then completes the run.
func TestRespondAnswerCheckedWhenGiven(t *testing.T) {
	b := setup(t, setupOpts{})
	ctx := t.Context()
	var got verdict
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		var err error
		got, err = checkpoint.Step(ctx, run, "grade", func(ctx context.Context) (verdict, error) {
			return verdict{}, checkpoint.Escalate(rebound.ReasonLowConfidence, "unsure", nil)
		})
		return err
	}
	var ee *checkpoint.EscalatedError
	if err := b.runner.Run(ctx, "grade-1", wf); !errors.As(err, &ee) {
		t.Fatalf("first run: %v, want escalated", err)
	}
	id := ee.EscalationID

	api := b.api(t, "POST", "/api/v1/escalations/"+id+"/resolve", `{"by":"ana","action":"respond","answer":"HUMAN-ANSWER-42"}`)
	if api.Code != http.StatusBadRequest || !strings.Contains(api.Body.String(), "JSON object") {
		t.Fatalf("API respond with text to a JSON step: %d %s, want 400 saying a JSON object is needed", api.Code, api.Body)
	}
	var s formSession
	b.open(t, &s, "/escalations/"+id)
	form := b.post(t, &s, "/escalations/"+id+"/resolve", url.Values{"csrf": {s.csrf}, "action": {"respond"},
		"answer": {"HUMAN-ANSWER-42"}, "by": {"ana"}})
	if form.Code != http.StatusBadRequest || !strings.Contains(form.Body.String(), "is not JSON") {
		t.Fatalf("form respond with text to a JSON step: %d, want 400 with the page saying why:\n%s", form.Code, form.Body)
	}
	if it, err := b.queue.Get(ctx, id); err != nil || it.Status != escalate.StatusOpen {
		t.Fatalf("after refused answers the item is %v (%v), want open", it.Status, err)
	}
	if err := b.runner.Run(ctx, "grade-1", wf); !errors.As(err, &ee) || ee.EscalationID != id {
		t.Fatalf("resume after refused answers: %v, want still waiting on %s", err, id)
	}

	form = b.post(t, &s, "/escalations/"+id+"/resolve", url.Values{"csrf": {s.csrf}, "action": {"respond"},
		"answer": {`{"score": 7, "note": "fine"}`}, "by": {"ana"}})
	if form.Code >= 400 {
		t.Fatalf("form respond with JSON: %d\n%s", form.Code, form.Body)
	}
	if err := b.runner.Run(ctx, "grade-1", wf); err != nil {
		t.Fatalf("resume after the answer: %v", err)
	}
	if got.Score != 7 || got.Note != "fine" {
		t.Fatalf("step result %+v, want the answer", got)
	}
}
