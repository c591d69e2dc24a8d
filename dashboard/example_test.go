package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
)

// The dashboard over an escalation queue and a run store, called through its JSON API with the
// token it was given.
func ExampleNew() {
	ctx := context.Background()
	queue := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	_, _ = queue.Escalate(ctx, rebound.Escalation{RunID: "refund-42", Step: "pay", Reason: "requires_human",
		Context: "refund of 1200 EUR is over the limit"})

	srv, err := dashboard.New(dashboard.Config{Escalations: queue, Runs: checkpoint.NewMemoryStore(), Token: "s3cret"})
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/escalations?status=open", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var items []escalate.Item
	_ = json.Unmarshal(rec.Body.Bytes(), &items)
	fmt.Println(rec.Code, len(items), items[0].RunID, items[0].Reason)

	// Without the token: 401 and a JSON error.
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/escalations", nil))
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output:
	// 200 1 refund-42 requires_human
	// 401 {"error":"missing or wrong token: send Authorization: Bearer \u003ctoken\u003e"}
}

// A run waits for approval before an irreversible step; a reviewer approves through the API;
// the resume worker (checkpoint.Worker) resumes the run, which finishes.
func Example_resume() {
	ctx := context.Background()
	runs := checkpoint.NewMemoryStore()
	queue := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	runner := checkpoint.NewRunner(runs, checkpoint.Config{Escalations: queue})

	type input struct{ Amount int }
	refund := func(in input) checkpoint.Workflow {
		return func(ctx context.Context, run *checkpoint.Run) error {
			_, err := checkpoint.Step(ctx, run, "pay", func(ctx context.Context) (string, error) {
				fmt.Println("paying", in.Amount)
				return "paid", nil
			}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
			return err
		}
	}
	err := runner.Run(ctx, "refund-42", refund(input{1200}), checkpoint.WithWorkflow("refund", input{1200}))
	fmt.Println("escalated:", errors.Is(err, checkpoint.ErrEscalated))

	srv, _ := dashboard.New(dashboard.Config{Escalations: queue, Runs: runs})
	items, _ := queue.List(ctx, escalate.Filter{RunID: "refund-42"})
	req := httptest.NewRequest("POST", "http://localhost/api/v1/escalations/"+items[0].ID+"/resolve",
		strings.NewReader(`{"action": "approve", "note": "customer verified", "by": "alice"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	fmt.Println("resolve:", rec.Code)

	// The resume worker (package checkpoint) runs decided runs again with the workflows by name.
	w, _ := checkpoint.NewWorker(runner, checkpoint.WorkerConfig{
		Logger: slog.New(slog.DiscardHandler),
		Workflows: map[string]checkpoint.Workflow{
			"refund": func(ctx context.Context, run *checkpoint.Run) error {
				var in input
				if err := run.DecodeInput(&in); err != nil {
					return err
				}
				return refund(in)(ctx, run)
			},
		},
	})
	n, _ := w.Poll(ctx) // w.Run(ctx) polls until ctx ends
	rec2, _ := runs.GetRun(ctx, "refund-42")
	fmt.Println("resumed:", n, "status:", rec2.Status)
	// Output:
	// escalated: true
	// resolve: 200
	// paying 1200
	// resumed: 1 status: completed
}

// Config.Runs is the run store itself (any checkpoint.Store): the runs pages and the API read
// it with checkpoint.Get, and serve the run's JSON (docs/api.md, "Runs as JSON").
func Example_runs() {
	ctx := context.Background()
	runs := checkpoint.NewMemoryStore()
	runner := checkpoint.NewRunner(runs, checkpoint.Config{})
	_ = runner.Run(ctx, "report-7", func(ctx context.Context, run *checkpoint.Run) error {
		_, err := checkpoint.Step(ctx, run, "outline", func(ctx context.Context) (string, error) { return "1. Tides", nil })
		return err
	}, checkpoint.WithWorkflow("report", map[string]string{"topic": "tides"}))

	queue := escalate.NewQueue(escalate.NewMemoryStore(), escalate.Config{})
	srv, _ := dashboard.New(dashboard.Config{Escalations: queue, Runs: runs})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/api/v1/runs/report-7", nil))
	var run struct {
		ID       string `json:"id"`
		Workflow string `json:"workflow"`
		Status   string `json:"status"`
		Steps    []struct {
			Name   string          `json:"name"`
			Result json.RawMessage `json:"result"`
		} `json:"steps"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &run)
	fmt.Println(rec.Code, run.ID, run.Workflow, run.Status, run.Steps[0].Name, string(run.Steps[0].Result))
	// Output: 200 report-7 report completed outline "1. Tides"
}
