package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/escalate"
	"github.com/rebound-go/rebound/retry"
)

// TestRunViewsAreRedacted: a key a step returned, one in the run's input and one in a
// failure's text are redacted with the queue's rules wherever the dashboard shows the run: the
// escalation page's "what the run has so far", the run page, the runs list and the API.
func TestRunViewsAreRedacted(t *testing.T) {
	t.Parallel()
	const (
		inKey     = "sk-ant-api03-inputKEY0123456789abcdef"
		resultKey = "sk-ant-api03-resultKEY0123456789abcdef"
		errKey    = "sk-proj-errorKEY0123456789abcdefgh"
	)
	b := setup(t, setupOpts{})
	wf := func(ctx context.Context, run *checkpoint.Run) error {
		if _, err := checkpoint.Step(ctx, run, "fetch", func(ctx context.Context) (map[string]string, error) {
			return map[string]string{"note": "use " + resultKey, "db_password": "hunter2-planted"}, nil
		}); err != nil {
			return err
		}
		calls := 0
		p := retry.Policy{Base: time.Millisecond, Rand: func() float64 { return 0 }, Name: "fake/primary"}
		if _, err := checkpoint.Step(ctx, run, "flaky", func(ctx context.Context) (string, error) {
			return retry.Do(ctx, p, func(ctx context.Context) (string, error) {
				if calls++; calls == 1 {
					return "", &rebound.Error{Class: rebound.ClassOverloaded, Status: 529, Message: "overloaded; key " + errKey}
				}
				return "ok", nil
			})
		}); err != nil {
			return err
		}
		_, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			return "done", nil
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval())
		return err
	}
	err := b.runner.Run(t.Context(), "leaky", wf, checkpoint.WithWorkflow("leaky", map[string]string{"key": inKey, "topic": "x"}))
	var esc *checkpoint.EscalatedError
	if !errors.As(err, &esc) {
		t.Fatalf("run: %v, want an escalation", err)
	}
	items, err := b.queue.List(t.Context(), escalate.Filter{RunID: "leaky"})
	if err != nil || len(items) != 1 {
		t.Fatalf("items = %v, %v", items, err)
	}
	for _, path := range []string{"/escalations/" + items[0].ID, "/runs/leaky", "/runs", "/api/v1/runs/leaky", "/api/v1/runs", "/api/v1/escalations/" + items[0].ID} {
		rec := b.get(t, path)
		wantStatus(t, rec, http.StatusOK)
		wantNoBody(t, rec, inKey, resultKey, "hunter2-planted")
		wantNoBody(t, rec, errKey)
	}
	wantBody(t, b.get(t, "/escalations/"+items[0].ID), escalate.Redacted)
	wantBody(t, b.get(t, "/runs/leaky"), escalate.Redacted)
	// Redaction comes after verification: the run is sound, its results shown (redacted).
	api := b.get(t, "/api/v1/runs/leaky")
	wantNoBody(t, api, "checksum", `"damaged"`)
	wantBody(t, api, `"note": "use `+escalate.Redacted)
}
