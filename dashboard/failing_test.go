package dashboard_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/dashboard"
	"github.com/rebound-go/rebound/escalate"
)

// queueFunc is a dashboard.Queue whose methods are its fields; nil fields fail.
type queueFunc struct {
	ListFunc  func(ctx context.Context, f escalate.Filter) ([]escalate.Item, error)
	GetFunc   func(ctx context.Context, id string) (escalate.Item, error)
	StatsFunc func(ctx context.Context) (escalate.Stats, error)
}

var _ dashboard.Queue = queueFunc{}

var errStore = errors.New("database is locked")

func (q queueFunc) List(ctx context.Context, f escalate.Filter) ([]escalate.Item, error) {
	if q.ListFunc == nil {
		return nil, errStore
	}
	return q.ListFunc(ctx, f)
}

func (q queueFunc) Get(ctx context.Context, id string) (escalate.Item, error) {
	if q.GetFunc == nil {
		return escalate.Item{}, errStore
	}
	return q.GetFunc(ctx, id)
}

func (q queueFunc) Stats(ctx context.Context) (escalate.Stats, error) {
	if q.StatsFunc == nil {
		return escalate.Stats{}, errStore
	}
	return q.StatsFunc(ctx)
}

func (queueFunc) Audit(context.Context, string) ([]escalate.AuditEntry, error) { return nil, errStore }
func (queueFunc) Claim(context.Context, string, string, time.Duration) (escalate.Item, error) {
	return escalate.Item{}, errStore
}
func (queueFunc) Resolve(context.Context, string, rebound.Decision) (escalate.Item, error) {
	return escalate.Item{}, errStore
}
func (queueFunc) Dismiss(context.Context, string, string, string) (escalate.Item, error) {
	return escalate.Item{}, errStore
}
func (queueFunc) Reopen(context.Context, string, string, string) (escalate.Item, error) {
	return escalate.Item{}, errStore
}
func (queueFunc) Override(context.Context, string, rebound.Decision) (escalate.Item, error) {
	return escalate.Item{}, errStore
}

// runsFunc is a dashboard.RunSource that fails.
type runsFunc struct{}

func (runsFunc) ListRuns(context.Context, checkpoint.RunFilter) ([]checkpoint.RunInfo, error) {
	return nil, errStore
}
func (runsFunc) GetRun(context.Context, string) (*checkpoint.RunRecord, error) { return nil, errStore }

// TestStoreFailures: a store that fails is a 500 that says why, as a page or as JSON; never a
// page that looks empty.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	srv, err := dashboard.New(dashboard.Config{Escalations: queueFunc{}, Runs: runsFunc{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{srv: srv}
	for _, p := range []string{"/escalations", "/escalations/esc_1", "/runs", "/runs/run-1", "/breakers"} {
		rec := b.get(t, p)
		wantStatus(t, rec, http.StatusInternalServerError)
		wantBody(t, rec, "database is locked")
	}
	for _, p := range []string{"/api/v1/escalations", "/api/v1/escalations/stats", "/api/v1/escalations/esc_1",
		"/api/v1/escalations/esc_1/audit", "/api/v1/runs", "/api/v1/runs/run-1", "/api/v1/breakers"} {
		wantAPIError(t, b.get(t, p), http.StatusInternalServerError, "database is locked")
	}
	wantAPIError(t, b.api(t, "POST", "/api/v1/escalations/esc_1/resolve", `{"action":"approve","by":"a"}`),
		http.StatusInternalServerError, "database is locked")
	// A page whose stats fail after the list worked still fails whole.
	srv, _ = dashboard.New(dashboard.Config{Logger: slog.New(slog.DiscardHandler), Escalations: queueFunc{
		ListFunc: func(context.Context, escalate.Filter) ([]escalate.Item, error) { return nil, nil },
	}})
	wantStatus(t, (&bundle{srv: srv}).get(t, "/escalations"), http.StatusInternalServerError)
}
